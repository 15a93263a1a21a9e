"""SMS adapters: the development outbox and the Eskiz.uz gateway."""

from __future__ import annotations

import base64
import json
import logging
import os
import string
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from domain.ports import SmsDeliveryError, SmsMessage, SmsSender

logger = logging.getLogger("ovoz.sms")

# Eskiz tokens live about 30 days; renewing a little early avoids a 401 round trip
# on a request that races the expiry.
_REFRESH_MARGIN_S = 600.0
_MAX_REASON_CHARS = 120


def _mask_phone(number: str) -> str:
    """Hide the middle of a phone number for logs: ``+998901234567`` → ``+99890*****67``."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 8) + number[-2:]


class ConsoleSms(SmsSender):
    """Development sender: logs each message and appends it as one JSON line to ``outbox``.

    The file is opened, appended to and flushed per message so that another process
    (a developer's ``tail -f``, an end-to-end test) can read codes as they are sent.
    """

    def __init__(self, outbox: Path) -> None:
        self._outbox = outbox
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> None:
        line = json.dumps(
            {"to": message.to, "text": message.text, "code": message.code},
            ensure_ascii=False,
        )
        logger.info("SMS to %s: %s", message.to, message.text)
        try:
            self._append(line + "\n")
        except OSError as exc:
            raise SmsDeliveryError(f"cannot write the SMS outbox: {exc.strerror}") from exc

    def _append(self, line: str) -> None:
        with self._lock:
            self._outbox.parent.mkdir(parents=True, exist_ok=True)
            # Live codes and phone numbers: readable by the service's user only.
            fd = os.open(self._outbox, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)  # an outbox written by an older version, too
            with open(fd, "a", encoding="utf-8") as file:
                file.write(line)
                file.flush()


class EskizSms(SmsSender):
    """Sends messages through Eskiz.uz (https://notify.eskiz.uz/api).

    Logs in lazily with email and password, caches the bearer token, renews it shortly
    before its JWT ``exp`` and once more when a send is answered 401. Errors never carry
    the password or the token; logs never carry them nor the message text.
    """

    def __init__(
        self,
        email: str,
        password: str,
        *,
        sender: str = "4546",
        base_url: str = "https://notify.eskiz.uz/api",
        timeout: float = 10.0,
        callback_url: str | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._email = email
        self._password = password
        self._sender = sender
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._callback_url = callback_url
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: float | None = None

    def send(self, message: SmsMessage) -> None:
        form = self._sms_form(message)
        token = self._valid_token()
        response = self._post_sms(form, token)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            response = self._post_sms(form, self._renew_rejected(token))
        self._check_sms_answer(response)
        logger.info("SMS to %s accepted by Eskiz", _mask_phone(message.to))

    def close(self) -> None:
        """Close the HTTP client if this sender created it."""
        if self._owns_client:
            self._client.close()

    def _sms_form(self, message: SmsMessage) -> dict[str, str]:
        digits = "".join(ch for ch in message.to if ch in string.digits)
        if not digits:
            raise SmsDeliveryError("the destination has no digits")
        form = {"mobile_phone": digits, "message": message.text, "from": self._sender}
        if self._callback_url is not None:
            form["callback_url"] = self._callback_url
        return form

    def _post_sms(self, form: dict[str, str], token: str) -> httpx.Response:
        return self._request("send", "POST", "/message/sms/send", token=token, form=form)

    def _check_sms_answer(self, response: httpx.Response) -> None:
        body = self._json_object("send", response)
        if str(body.get("status", "")).lower() == "error":
            raise SmsDeliveryError(f"Eskiz refused the SMS: {self._reason(body)}")

    # Token lifecycle. The lock makes concurrent senders share one login or refresh.

    def _valid_token(self) -> str:
        with self._lock:
            token = self._token
            if token is None:
                token = self._login()
            elif self._is_expiring():
                token = self._refresh_or_login(token)
            return self._remember(token)

    def _renew_rejected(self, rejected: str) -> str:
        with self._lock:
            if self._token is not None and self._token != rejected:
                return self._token  # another thread renewed it meanwhile
            return self._remember(self._refresh_or_login(rejected))

    def _is_expiring(self) -> bool:
        if self._expires_at is None:
            return False
        return self._clock() >= self._expires_at - _REFRESH_MARGIN_S

    def _remember(self, token: str) -> str:
        self._token = token
        self._expires_at = _jwt_expiry(token)
        return token

    def _refresh_or_login(self, token: str) -> str:
        try:
            return self._refresh(token)
        except SmsDeliveryError as exc:
            logger.info("Eskiz token refresh failed (%s); logging in again", exc)
            return self._login()

    def _login(self) -> str:
        form = {"email": self._email, "password": self._password}
        response = self._request("login", "POST", "/auth/login", form=form)
        logger.info("Eskiz: logged in")
        return self._token_from("login", response)

    def _refresh(self, token: str) -> str:
        response = self._request("token refresh", "PATCH", "/auth/refresh", token=token)
        logger.info("Eskiz: token refreshed")
        return self._token_from("token refresh", response)

    def _token_from(self, step: str, response: httpx.Response) -> str:
        data = self._json_object(step, response).get("data")
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise SmsDeliveryError(f"Eskiz {step}: the answer has no token")
        return token

    # HTTP plumbing.

    def _request(
        self,
        step: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        form: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self._client.request(
                method,
                self._base_url + path,
                data=form,
                headers=headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise SmsDeliveryError(f"Eskiz {step}: timed out") from exc
        except httpx.HTTPError as exc:
            reason = self._redact(f"{type(exc).__name__}: {exc}")
            raise SmsDeliveryError(f"Eskiz {step}: {reason}"[:200]) from exc

    def _json_object(self, step: str, response: httpx.Response) -> dict[str, Any]:
        body = _parse_object(response)
        if not response.is_success:
            detail = f": {self._reason(body)}" if body else ""
            raise SmsDeliveryError(f"Eskiz {step}: HTTP {response.status_code}{detail}")
        if body is None:
            raise SmsDeliveryError(f"Eskiz {step}: the answer is not a JSON object")
        return body

    def _reason(self, body: dict[str, Any] | None) -> str:
        message = (body or {}).get("message", "no reason given")
        if not isinstance(message, str):
            message = json.dumps(message, ensure_ascii=False)
        return self._redact(message)[:_MAX_REASON_CHARS]

    def _redact(self, text: str) -> str:
        # The gateway or httpx may echo what we sent; secrets must not reach callers' logs.
        for secret in (self._password, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text


def _parse_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT-shaped token, unverified; None when there is none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except ValueError:  # covers binascii.Error, UnicodeDecodeError and JSONDecodeError
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)
