"""GraphQL types of sign-in."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain.identity import Role as DomainRole
from graphql_api.errors import InvalidOtp, InvalidPhoneNumber, RateLimited, SmsDeliveryFailed
from projections.users import UserRow


@strawberry.enum
class Role(Enum):
    USER = "USER"
    ADMIN = "ADMIN"


@strawberry.type(description="A code is on its way to the phone.")
class OtpSent:
    phone_number: str
    expires_in: int = strawberry.field(description="Seconds the code stays valid.")
    resend_after: int = strawberry.field(description="Seconds before another code can be sent.")


@strawberry.type(description="A signed access token. Send it as `Authorization: Bearer …`.")
class Token:
    access_token: str
    token_type: str
    expires_in: int
    user_id: strawberry.ID
    phone_number: str
    role: Role
    refresh_token: str | None = strawberry.field(
        default=None,
        description="Exchange it for a new Token with refreshSession before the access "
        "token expires. Null in browser mode: it travels in an HttpOnly cookie.",
    )
    session_id: strawberry.ID | None = strawberry.field(
        default=None, description="The session this token belongs to."
    )


@strawberry.type
class User:
    id: strawberry.ID
    phone_number: str
    role: Role
    created_at: datetime
    vocabulary: list[str] = strawberry.field(
        default_factory=list,
        description="Names and terms your transcriptions are steered towards (setVocabulary).",
    )

    @classmethod
    def from_row(cls, row: UserRow, role: DomainRole) -> User:
        """``role`` is the caller's current one (see infrastructure.callers)."""
        return cls(
            id=strawberry.ID(str(row.id)),
            phone_number=row.phone,
            role=Role(role.value),
            created_at=row.created_at,
            vocabulary=list(row.vocabulary),
        )


SendOtpResult = Annotated[
    OtpSent | InvalidPhoneNumber | RateLimited | SmsDeliveryFailed,
    strawberry.union("SendOtpResult"),
]
VerifyOtpResult = Annotated[Token | InvalidOtp | RateLimited, strawberry.union("VerifyOtpResult")]
