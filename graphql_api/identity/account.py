"""deleteAccount: erase the caller and everything of theirs."""

from __future__ import annotations

from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from graphql_api.context import Info
from graphql_api.permissions import require_principal


@strawberry.type(description="The account and all its recordings are erased for good.")
class DeletedAccount:
    user_id: strawberry.ID


DeleteAccountResult = Annotated[DeletedAccount, strawberry.union("DeleteAccountResult")]


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Erase the caller: account, sign-in history, recordings.")
    async def delete_account(self, info: Info) -> DeleteAccountResult:
        principal = require_principal(info.context)
        services = info.context.services
        position = await run_in_threadpool(services.accounts.delete_account, principal)
        services.callers.forget(principal.user_id)
        await run_in_threadpool(services.wait_for, services.identity.name, position)
        return DeletedAccount(user_id=strawberry.ID(str(principal.user_id)))
