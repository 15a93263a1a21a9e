"""Authentication for protected fields."""

from __future__ import annotations

from graphql import GraphQLError

from domain.access import Principal
from graphql_api.context import Context
from graphql_api.messages import message


class NotAuthenticatedError(GraphQLError):
    """Missing or bad credentials; ``extensions.code`` is ``UNAUTHENTICATED``."""

    def __init__(self, locale: str) -> None:
        super().__init__(message("UNAUTHENTICATED", locale), extensions={"code": "UNAUTHENTICATED"})


def require_principal(context: Context) -> Principal:
    if context.principal is None:
        raise NotAuthenticatedError(context.locale)
    return context.principal
