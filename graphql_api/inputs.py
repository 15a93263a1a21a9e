"""Arguments that have no error member of their own: refused as a GraphQL error with
``extensions.code = "BAD_USER_INPUT"`` and HTTP 400, before anything reads them."""

from __future__ import annotations

from typing import NoReturn

from graphql import GraphQLError
from starlette.responses import Response

from domain.text import unstorable_reason
from graphql_api.context import Context
from graphql_api.messages import message


class BadUserInputError(GraphQLError):
    """An argument ovoz cannot use; ``extensions.argument`` names it."""

    def __init__(self, locale: str, argument: str, detail: str) -> None:
        super().__init__(
            message("BAD_USER_INPUT", locale, argument=argument, detail=detail),
            extensions={"code": "BAD_USER_INPUT", "argument": argument},
        )


def checked_text(context: Context, argument: str, value: str | None) -> str | None:
    """``value`` if it can be stored and searched; otherwise refuse the request."""
    reason = unstorable_reason(value) if value is not None else None
    if reason is None:
        return value
    if isinstance(context.response, Response):  # HTTP (a socket has no status)
        context.response.status_code = 400
    raise BadUserInputError(context.locale, argument, reason)


def refuse(context: Context, argument: str, why: str, **params: object) -> NoReturn:
    """Refuse the request for ``argument``, saying ``why`` (a message code) in the
    caller's language."""
    if isinstance(context.response, Response):
        context.response.status_code = 400
    raise BadUserInputError(context.locale, argument, message(why, context.locale, **params))
