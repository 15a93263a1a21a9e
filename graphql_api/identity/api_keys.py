"""createApiKey, apiKeys and revokeApiKey: keys for programs. Each is an account
operation: only a person signed in by SMS may run them, never a key."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from domain.access import Scope
from domain.api_keys import (
    MAX_NAME_LENGTH,
    ApiKeyLimitError,
    ApiKeyNotFoundError,
    InvalidApiKeyInputError,
    display_prefix,
)
from domain.api_keys import ApiKey as ApiKeyAggregate
from domain.errors import UserNotFoundError
from graphql_api.context import ApiKeyAccess, Info
from graphql_api.errors import Error
from graphql_api.inputs import checked_text
from graphql_api.messages import message
from graphql_api.permissions import NotAuthenticatedError, require_principal
from projections.api_keys import ApiKeyRow


@strawberry.enum(description="What an API key may do (account operations: never).")
class ApiScope(Enum):
    RECORDINGS_READ = "RECORDINGS_READ"
    RECORDINGS_WRITE = "RECORDINGS_WRITE"


@strawberry.type(description="An API key as lists show it: never the key itself.")
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The key's public start, e.g. ovoz_ab12cd34.")
    scopes: list[ApiScope]
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="When the key last authenticated a request (to within a minute or so)."
    )

    @classmethod
    def from_row(cls, row: ApiKeyRow) -> ApiKey:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            prefix=display_prefix(row.public_id),
            scopes=[ApiScope(s.value) for s in row.scopes],
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )

    @classmethod
    def from_aggregate(cls, key: ApiKeyAggregate) -> ApiKey:
        return cls(
            id=strawberry.ID(str(key.id)),
            name=key.name,
            prefix=display_prefix(key.public_id),
            scopes=[ApiScope(s.value) for s in key.scopes],
            created_at=key.created_on,
            last_used_at=None,
        )


@strawberry.type(description="A new key. `key` is shown this once: it is stored only hashed.")
class NewApiKey:
    key: str = strawberry.field(description="Send it as `Authorization: Bearer <key>`.")
    api_key: ApiKey


@strawberry.type(description="The key no longer works, anywhere.")
class RevokedApiKey:
    id: strawberry.ID


@strawberry.type
class InvalidApiKeyInput(Error):
    argument: str = strawberry.field(description="`name` or `scopes`.")


@strawberry.type
class ApiKeyLimitReached(Error):
    limit: int = strawberry.field(description="Live keys one user may have.")


@strawberry.type
class ApiKeyNotFound(Error):
    pass


CreateApiKeyResult = Annotated[
    NewApiKey | InvalidApiKeyInput | ApiKeyLimitReached, strawberry.union("CreateApiKeyResult")
]
RevokeApiKeyResult = Annotated[
    RevokedApiKey | ApiKeyNotFound, strawberry.union("RevokeApiKeyResult")
]


def _invalid_input(locale: str, error: InvalidApiKeyInputError) -> InvalidApiKeyInput:
    text = message(f"INVALID_API_KEY_{error.argument.upper()}", locale, max=MAX_NAME_LENGTH)
    return InvalidApiKeyInput(code=error.code, message=text, argument=error.argument)


def _not_found(locale: str) -> ApiKeyNotFound:
    code = ApiKeyNotFoundError.code
    return ApiKeyNotFound(code=code, message=message(code, locale))


def _registry(info: Info) -> ApiKeyAccess:
    keys = info.context.services.api_keys
    if keys is None:
        raise RuntimeError("API keys are not wired into this API")
    return keys


@strawberry.type
class ApiKeyQuery:
    @strawberry.field(description="The caller's live API keys, newest first.")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        principal = require_principal(info.context)
        rows = await run_in_threadpool(_registry(info).live_of, principal.user_id)
        return [ApiKey.from_row(r) for r in rows]


@strawberry.type
class ApiKeyMutation:
    @strawberry.mutation(description="Make an API key for a program, limited to `scopes`.")
    async def create_api_key(
        self, info: Info, name: str, scopes: list[ApiScope]
    ) -> CreateApiKeyResult:
        principal = require_principal(info.context)
        context = info.context
        checked_text(context, "name", name)
        try:
            new = await run_in_threadpool(
                _registry(info).create,
                principal.user_id,
                name,
                [Scope(s.value) for s in scopes],
            )
        except InvalidApiKeyInputError as e:
            return _invalid_input(context.locale, e)
        except ApiKeyLimitError as e:
            text = message(e.code, context.locale, limit=e.limit)
            return ApiKeyLimitReached(code=e.code, message=text, limit=e.limit)
        except UserNotFoundError:
            raise NotAuthenticatedError(context.locale) from None
        services = context.services
        await run_in_threadpool(services.wait_for, services.identity.name, new.position)
        return NewApiKey(key=new.key, api_key=ApiKey.from_aggregate(new.api_key))

    @strawberry.mutation(description="Revoke one of the caller's API keys, at once.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> RevokeApiKeyResult:
        principal = require_principal(info.context)
        context = info.context
        try:
            key_id = UUID(str(id))
        except ValueError:
            return _not_found(context.locale)
        try:
            position = await run_in_threadpool(_registry(info).revoke, principal.user_id, key_id)
        except ApiKeyNotFoundError:
            return _not_found(context.locale)
        services = context.services
        await run_in_threadpool(services.wait_for, services.identity.name, position)
        return RevokedApiKey(id=strawberry.ID(str(key_id)))
