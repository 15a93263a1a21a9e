"""The typed context every resolver receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from domain.access import Principal
from domain.identity import Role
from domain.signin import Identity
from projections.users import UsersView


class IssuedToken(Protocol):
    @property
    def token(self) -> str: ...
    @property
    def expires_in(self) -> int: ...


class TokenService(Protocol):
    def issue(self, user_id: UUID, role: Role) -> IssuedToken: ...
    def verify(self, token: str) -> Principal | None: ...


@dataclass(frozen=True)
class Services:
    """What the API needs, handed in by the composition root."""

    identity: Identity
    users: UsersView
    tokens: TokenService
    wait_for: Callable[[str, int], bool]  # read-your-writes: (application, position)


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    services: Services
    locale: str
    request_id: str
    principal: Principal | None = None


Info = strawberry.Info[Context, None]
