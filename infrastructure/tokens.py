"""Signed access tokens (JWT, HS256) for signed-in users."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from domain.access import Principal
from domain.identity import Role

# ``sid`` names the session the token belongs to: ending the session ends its tokens.
# Tokens issued before sessions existed have none and are refused (they lived an hour).
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "iss", "aud", "role", "sid"]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


class Tokens:
    """Issues and checks access tokens. Every claim is required on decode."""

    def __init__(self, secret: bytes, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds

    def issue(
        self, user_id: UUID, role: Role, session_id: UUID, now: float | None = None
    ) -> IssuedToken:
        issued_at = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "iat": issued_at,
            "exp": issued_at + self._ttl,
            "jti": uuid.uuid4().hex,
            "iss": self._issuer,
            "aud": self._audience,
            "role": role.value,
            "sid": str(session_id),
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm="HS256"), self._ttl)

    def verify(self, token: str) -> Principal | None:
        """The caller the token proves, or None if it is malformed, forged, expired,
        for another audience or issuer, or lacks a claim."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED_CLAIMS},
            )
            return Principal(
                user_id=UUID(claims["sub"]),
                role=Role(claims["role"]),
                expires_at=float(claims["exp"]),
                session_id=UUID(claims["sid"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            return None
