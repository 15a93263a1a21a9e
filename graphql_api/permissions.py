"""Authentication for protected fields."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission

from domain.access import Principal
from graphql_api.context import Context, Info
from graphql_api.messages import message


class NotAuthenticatedError(GraphQLError):
    """Missing or bad credentials; ``extensions.code`` is ``UNAUTHENTICATED``."""

    def __init__(self, locale: str) -> None:
        super().__init__(message("UNAUTHENTICATED", locale), extensions={"code": "UNAUTHENTICATED"})


def require_principal(context: Context) -> Principal:
    if context.principal is None:
        raise NotAuthenticatedError(context.locale)
    return context.principal


class IsAuthenticated(BasePermission):
    message = "UNAUTHENTICATED"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        require_principal(info.context)
        return True
