"""Who is asking, and what they may see."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.identity import Role


class Scope(StrEnum):
    """What an API key may do. A person signed in by SMS may do everything; a key only
    what its scopes name, and never anything to the account itself (sessions, keys,
    webhooks, deletion)."""

    RECORDINGS_READ = "RECORDINGS_READ"
    RECORDINGS_WRITE = "RECORDINGS_WRITE"


@dataclass(frozen=True)
class Principal:
    """A signed-in caller, as proven by their access token or API key.

    ``scopes`` is None for a person (a session started by SMS): every operation on
    their own account. An API key's principal has the key's scopes and ``api_key_id``;
    a session's has its ``session_id``.
    """

    user_id: UUID
    role: Role
    expires_at: float
    scopes: frozenset[Scope] | None = None
    session_id: UUID | None = None
    api_key_id: UUID | None = None

    @property
    def is_api_key(self) -> bool:
        return self.scopes is not None

    def may(self, scope: Scope | None) -> bool:
        """Whether this caller may run an operation needing ``scope``; None stands for
        an account operation, which only a person may run."""
        if self.scopes is None:
            return True
        return scope is not None and scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, owner_id: UUID) -> bool:
        """Users see their own things; admins see everything."""
        return self.is_admin or owner_id == self.user_id

    def may_edit(self, owner_id: UUID) -> bool:
        """A transcript is its owner's work: only they correct it. Admins read, retry
        and delete anyone's recordings (support, takedowns), but an admin's words must
        never pass for the owner's in an export."""
        return owner_id == self.user_id
