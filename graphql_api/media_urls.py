"""Signed media URLs: what an ``<audio>`` element and a download link can use.

Neither can send an ``Authorization`` header, so ``Audio.fileUrl`` and ``Audio.exportUrl``
hand out short-lived links that carry their own proof: an HMAC over the recording, the
kind of file (the upload, or one export format and script), the caller (user and session or API key)
and the expiry. A link works only for the recording and kind it names, only until it
expires, and only while the caller could still open the file with a token: the file
endpoints run the same checks on the caller a link names as on a bearer token (the
account must exist, a session that ended takes its links with it, and the recording must
still be there and the caller's to see).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode
from uuid import UUID

from domain.access import Principal
from domain.identity import Role
from domain.scripts import Script

LINK_TTL_SECONDS = 15 * 60
_PURPOSE = b"ovoz media url v1"


@dataclass(frozen=True)
class LinkHolder:
    """Who a valid link was issued to, to be checked as a token's holder would be."""

    user_id: UUID
    session_id: UUID | None
    api_key_id: UUID | None
    expires_at: float

    def claimed(self) -> Principal:
        # The role is the current one, which the caller check looks up; USER is the claim.
        return Principal(
            user_id=self.user_id,
            role=Role.USER,
            expires_at=self.expires_at,
            session_id=self.session_id,
            api_key_id=self.api_key_id,
        )


class MediaSigner:
    """Makes and checks the signed links. The key is derived from the server's token
    secret under a purpose label of its own, so a link's MAC can never pass for a token's."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl_seconds: int = LINK_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = hmac.new(secret, _PURPOSE, hashlib.sha256).digest()
        self._ttl = ttl_seconds
        self._clock = clock

    def file_url(self, audio_id: UUID, caller: Principal) -> str:
        return f"/audio/{audio_id}/file?" + self._query(audio_id, "file", caller)

    def export_url(
        self,
        audio_id: UUID,
        fmt: str,
        caller: Principal,
        script: Script = Script.LATN,
        locale: str | None = None,
    ) -> str:
        """``locale`` (outside the signature: it decides only what unnamed speakers are
        called) is the language the file names them in, that of whoever asked for it."""
        query = self._query(audio_id, export_kind(fmt, script), caller)
        if script is not Script.LATN:
            query = urlencode({"script": script.value}) + "&" + query
        if locale is not None:
            query += "&" + urlencode({"lang": locale})
        return f"/audio/{audio_id}/transcript.{fmt}?" + query

    def verify(self, audio_id: UUID, kind: str, params: Mapping[str, str]) -> LinkHolder | None:
        """The holder a link names, or None if it is forged, altered, for another
        recording or kind, or expired."""
        try:
            user_id = UUID(params["by"])
            via = params.get("via", "")
            expires = int(params["exp"])
            given = base64.urlsafe_b64decode(params["sig"] + "=" * (-len(params["sig"]) % 4))
            session_id, api_key_id = _holder_ids(via)
        except (KeyError, ValueError):
            return None
        expected = self._mac(audio_id, kind, user_id, via, expires)
        if not hmac.compare_digest(given, expected) or expires < self._clock():
            return None
        return LinkHolder(user_id, session_id, api_key_id, float(expires))

    def _query(self, audio_id: UUID, kind: str, caller: Principal) -> str:
        via = (
            f"k.{caller.api_key_id}"
            if caller.api_key_id is not None
            else f"s.{caller.session_id}"
            if caller.session_id is not None
            else ""
        )
        expires = int(self._clock()) + self._ttl
        sig = self._mac(audio_id, kind, caller.user_id, via, expires)
        fields = {"by": str(caller.user_id), "via": via, "exp": str(expires)}
        fields["sig"] = base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
        return urlencode(fields)

    def _mac(self, audio_id: UUID, kind: str, user_id: UUID, via: str, expires: int) -> bytes:
        message = f"{audio_id}\n{kind}\n{user_id}\n{via}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()


def export_kind(fmt: str, script: Script) -> str:
    """What an export link is for: the format and, unless Latin (as links made before
    scripts existed), the script, so that a link's MAC covers the script it asks for."""
    return f"transcript.{fmt}" if script is Script.LATN else f"transcript.{fmt}.{script.value}"


def _holder_ids(via: str) -> tuple[UUID | None, UUID | None]:
    kind, _, value = via.partition(".")
    if kind == "s":
        return UUID(value), None
    if kind == "k":
        return None, UUID(value)
    if via:
        raise ValueError(via)
    return None, None
