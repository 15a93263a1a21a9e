"""me: the signed-in caller."""

from __future__ import annotations

import strawberry
from starlette.concurrency import run_in_threadpool

from graphql_api.context import Info
from graphql_api.identity.types import User
from graphql_api.permissions import NotAuthenticatedError, require_principal


@strawberry.type
class IdentityQuery:
    @strawberry.field(description="The signed-in user.")
    async def me(self, info: Info) -> User:
        principal = require_principal(info.context)
        row = await run_in_threadpool(info.context.services.users.get, principal.user_id)
        if row is None:  # erased or never projected: the token no longer names anyone
            raise NotAuthenticatedError(info.context.locale)
        return User.from_row(row, role=principal.role)
