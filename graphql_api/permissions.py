"""Authentication and scopes for protected fields."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission

from domain.access import Principal, Scope
from graphql_api.context import Context
from graphql_api.messages import message


class NotAuthenticatedError(GraphQLError):
    """Missing or bad credentials; ``extensions.code`` is ``UNAUTHENTICATED``."""

    def __init__(self, locale: str) -> None:
        super().__init__(message("UNAUTHENTICATED", locale), extensions={"code": "UNAUTHENTICATED"})


class ForbiddenError(GraphQLError):
    """Good credentials that may not do this (an API key outside its scopes, or any key
    on an account operation); ``extensions.code`` is ``FORBIDDEN``."""

    def __init__(self, locale: str, scope: Scope | None) -> None:
        super().__init__(
            message("FORBIDDEN", locale),
            extensions={"code": "FORBIDDEN", "requiredScope": scope.value if scope else None},
        )


def require_principal(context: Context, scope: Scope | None = None) -> Principal:
    """The caller, who must be allowed ``scope``. ``None`` (the default) marks an
    account operation, which API keys never may run: a resolver that forgets to name
    its scope refuses keys rather than letting them through."""
    if context.principal is None:
        raise NotAuthenticatedError(context.locale)
    return allowed(context.principal, scope, context.locale)


class ReadsRecordings(BasePermission):
    """On a recording's content (its name, transcript, segments, error): a mutation
    returns the recording it changed, and an API key that may write but not read
    recordings sees only what it needs to follow its job (id, status, version...)."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        context: Context = info.context
        if context.principal is not None:
            allowed(context.principal, Scope.RECORDINGS_READ, context.locale)
        return True


def allowed(principal: Principal, scope: Scope | None, locale: str) -> Principal:
    if not principal.may(scope):
        raise ForbiddenError(locale, scope)
    return principal
