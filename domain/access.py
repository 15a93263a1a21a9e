"""Who is asking, and what they may see."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.identity import Role


@dataclass(frozen=True)
class Principal:
    """A signed-in caller, as proven by their access token."""

    user_id: UUID
    role: Role
    expires_at: float

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
