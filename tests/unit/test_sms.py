"""The SMS adapters: the console outbox, and Eskiz against a local stub of its HTTP API."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from domain.ports import SmsDeliveryError, SmsMessage
from infrastructure.sms import ConsoleSms, EskizSms

EMAIL = "ops@ovoz.example"
PASSWORD = "s3cret-Pa55word"
PHONE = "+998901234567"
TEXT = "Ovoz: tasdiqlash kodi 482913"
LOGIN = ("POST", "/api/auth/login")
REFRESH = ("PATCH", "/api/auth/refresh")
SEND = ("POST", "/api/message/sms/send")


def jwt(exp: float) -> str:
    def part(obj: dict[str, object]) -> str:
        raw = json.dumps(obj).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'exp': exp, 'role': 'user'})}.sig"


@dataclass(frozen=True)
class Reply:
    status: int
    body: object
    delay_s: float = 0.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]

    @property
    def route(self) -> tuple[str, str]:
        return (self.method, self.path)


def token_reply(token: str) -> Reply:
    return Reply(
        200, {"message": "token_generated", "data": {"token": token}, "token_type": "bearer"}
    )


def sent_reply() -> Reply:
    return Reply(
        200, {"id": "e837dec2", "message": "Waiting for SMS provider", "status": "waiting"}
    )


@dataclass
class StubEskiz:
    """Records every request and answers with the next scripted reply, in order."""

    base_url: str = ""
    script: list[Reply] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self.script.pop(0) if self.script else Reply(599, {"message": "unscripted"})

    @property
    def routes(self) -> list[tuple[str, str]]:
        return [r.route for r in self.requests]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._handle()

            def do_PATCH(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                form = dict(parse_qsl(body, keep_blank_values=True))
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = stub.answer(Recorded(self.command, self.path, headers, form))
                time.sleep(reply.delay_s)
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def eskiz() -> Iterator[StubEskiz]:
    stub = StubEskiz()
    server = ThreadingHTTPServer(("127.0.0.1", 0), stub.handler())
    # The timeout test leaves a handler writing to a client that gave up: wait for it on
    # close, and don't print the broken pipe it meets.
    server.block_on_close = True
    server.daemon_threads = False
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}/api"
    yield stub
    server.shutdown()
    server.server_close()
    thread.join()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sender_for(stub: StubEskiz, **kwargs: Any) -> EskizSms:
    return EskizSms(EMAIL, PASSWORD, base_url=stub.base_url, **kwargs)


def message(text: str = TEXT) -> SmsMessage:
    return SmsMessage(to=PHONE, text=text, code="482913")


# Eskiz: the exact requests.


def test_first_send_logs_in_with_email_and_password_form(eskiz: StubEskiz) -> None:
    eskiz.script = [token_reply("tok-1"), sent_reply()]

    sender_for(eskiz).send(message())

    login = eskiz.requests[0]
    assert login.route == LOGIN
    assert login.form == {"email": EMAIL, "password": PASSWORD}
    assert "authorization" not in login.headers


def test_send_posts_digits_only_phone_text_and_sender_with_bearer(eskiz: StubEskiz) -> None:
    eskiz.script = [token_reply("tok-1"), sent_reply()]

    sender_for(eskiz, sender="ovoz").send(message())

    assert eskiz.routes == [LOGIN, SEND]
    send = eskiz.requests[1]
    assert send.headers["authorization"] == "Bearer tok-1"
    assert send.headers["content-type"] == "application/x-www-form-urlencoded"
    assert send.form == {"mobile_phone": "998901234567", "message": TEXT, "from": "ovoz"}


def test_default_sender_is_4546_and_callback_url_is_sent_when_set(eskiz: StubEskiz) -> None:
    eskiz.script = [token_reply("tok-1"), sent_reply()]

    sender_for(eskiz, callback_url="https://ovoz.example/sms-status").send(message())

    assert eskiz.requests[1].form["from"] == "4546"
    assert eskiz.requests[1].form["callback_url"] == "https://ovoz.example/sms-status"


def test_token_is_reused_across_sends(eskiz: StubEskiz) -> None:
    eskiz.script = [token_reply("tok-1"), sent_reply(), sent_reply()]
    sender = sender_for(eskiz)

    sender.send(message())
    sender.send(message())

    assert eskiz.routes == [LOGIN, SEND, SEND]
    assert [r.headers["authorization"] for r in eskiz.requests[1:]] == ["Bearer tok-1"] * 2


def test_concurrent_first_sends_share_one_login(eskiz: StubEskiz) -> None:
    eskiz.script = [Reply(200, token_reply("tok-1").body, delay_s=0.2)] + [sent_reply()] * 4
    sender = sender_for(eskiz)
    threads = [threading.Thread(target=sender.send, args=(message(),)) for _ in range(4)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert eskiz.routes == [LOGIN] + [SEND] * 4


def test_unauthorized_send_refreshes_token_and_retries_once(eskiz: StubEskiz) -> None:
    eskiz.script = [
        token_reply("tok-1"),
        Reply(401, {"message": "Expired"}),
        token_reply("tok-2"),
        sent_reply(),
        sent_reply(),
    ]
    sender = sender_for(eskiz)

    sender.send(message())
    sender.send(message())

    assert eskiz.routes == [LOGIN, SEND, REFRESH, SEND, SEND]
    refresh, retry, later = eskiz.requests[2], eskiz.requests[3], eskiz.requests[4]
    assert refresh.headers["authorization"] == "Bearer tok-1"
    assert retry.headers["authorization"] == "Bearer tok-2"
    assert retry.form == eskiz.requests[1].form
    assert later.headers["authorization"] == "Bearer tok-2"


def test_send_rejected_again_after_refresh_fails_without_more_retries(eskiz: StubEskiz) -> None:
    eskiz.script = [
        token_reply("tok-1"),
        Reply(401, {"message": "Expired"}),
        token_reply("tok-2"),
        Reply(401, {"message": "Expired"}),
    ]

    with pytest.raises(SmsDeliveryError, match="401"):
        sender_for(eskiz).send(message())

    assert eskiz.routes == [LOGIN, SEND, REFRESH, SEND]


def test_failed_refresh_falls_back_to_a_full_login(eskiz: StubEskiz) -> None:
    eskiz.script = [
        token_reply("tok-1"),
        Reply(401, {"message": "Expired"}),
        Reply(401, {"message": "Expired"}),
        token_reply("tok-2"),
        sent_reply(),
    ]

    sender_for(eskiz).send(message())

    assert eskiz.routes == [LOGIN, SEND, REFRESH, LOGIN, SEND]
    assert eskiz.requests[3].form == {"email": EMAIL, "password": PASSWORD}
    assert eskiz.requests[4].headers["authorization"] == "Bearer tok-2"


def test_token_far_from_expiry_is_not_refreshed(eskiz: StubEskiz) -> None:
    exp = 1_800_000_000
    clock = Clock(exp - 30 * 24 * 3600)
    eskiz.script = [token_reply(jwt(exp)), sent_reply(), sent_reply()]
    sender = sender_for(eskiz, clock=clock)

    sender.send(message())
    clock.now = exp - 24 * 3600
    sender.send(message())

    assert eskiz.routes == [LOGIN, SEND, SEND]


@pytest.mark.parametrize("seconds_to_exp", [60, -3600], ids=["about-to-expire", "expired"])
def test_token_near_or_past_expiry_is_refreshed_before_sending(
    eskiz: StubEskiz, seconds_to_exp: int
) -> None:
    exp = 1_800_000_000
    old, new = jwt(exp), jwt(exp + 30 * 24 * 3600)
    clock = Clock(exp - 30 * 24 * 3600)
    eskiz.script = [token_reply(old), sent_reply(), token_reply(new), sent_reply()]
    sender = sender_for(eskiz, clock=clock)

    sender.send(message())
    clock.now = exp - seconds_to_exp
    sender.send(message())

    assert eskiz.routes == [LOGIN, SEND, REFRESH, SEND]
    assert eskiz.requests[2].headers["authorization"] == f"Bearer {old}"
    assert eskiz.requests[3].headers["authorization"] == f"Bearer {new}"


# Eskiz: failures.


def test_server_error_on_send_raises_delivery_error(eskiz: StubEskiz) -> None:
    eskiz.script = [token_reply("tok-1"), Reply(500, {"message": "Server Error"})]

    with pytest.raises(SmsDeliveryError, match="HTTP 500"):
        sender_for(eskiz).send(message())


def test_body_reporting_an_error_raises_delivery_error(eskiz: StubEskiz) -> None:
    eskiz.script = [token_reply("tok-1"), Reply(200, {"status": "error", "message": "Bad number"})]

    with pytest.raises(SmsDeliveryError, match="Bad number"):
        sender_for(eskiz).send(message())


def test_bad_credentials_raise_delivery_error_without_sending(eskiz: StubEskiz) -> None:
    eskiz.script = [Reply(401, {"message": "Invalid credentials"})]

    with pytest.raises(SmsDeliveryError, match="login"):
        sender_for(eskiz).send(message())

    assert eskiz.routes == [LOGIN]


def test_slow_gateway_times_out_as_delivery_error(eskiz: StubEskiz) -> None:
    eskiz.script = [token_reply("tok-1"), Reply(200, sent_reply().body, delay_s=1.0)]

    with pytest.raises(SmsDeliveryError, match="timed out"):
        sender_for(eskiz, timeout=0.2).send(message())


def test_unreachable_gateway_raises_delivery_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = EskizSms(EMAIL, PASSWORD, base_url=f"http://127.0.0.1:{port}/api", timeout=2.0)

    with pytest.raises(SmsDeliveryError, match="login"):
        sender.send(message())


def test_secrets_and_text_stay_out_of_errors_and_logs(
    eskiz: StubEskiz, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = jwt(1_800_000_000)
    eskiz.script = [
        token_reply(token),
        sent_reply(),
        Reply(500, {"message": f"rejected token {token}"}),
        Reply(401, {"message": f"wrong password {PASSWORD}"}),
    ]
    sender = sender_for(eskiz, clock=Clock(1_700_000_000))
    sender.send(message())
    with pytest.raises(SmsDeliveryError) as server_error:
        sender.send(message())
    with pytest.raises(SmsDeliveryError) as login_error:
        sender_for(eskiz).send(message())

    errors = f"{server_error.value} {login_error.value}"
    assert "rejected token" in errors
    assert "wrong password" in errors
    for secret in (PASSWORD, token):
        assert secret not in errors
        assert secret not in caplog.text
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [line for line in info if TEXT in line or "482913" in line]
    assert any("+99890*****67" in line for line in info)


# Console outbox.


def read_outbox(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_console_appends_one_json_line_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "sms-outbox.jsonl"
    sms = ConsoleSms(outbox)

    sms.send(SmsMessage(to=PHONE, text="code 111111", code="111111"))
    sms.send(SmsMessage(to="+998935550011", text="hello"))

    assert outbox.read_text(encoding="utf-8").endswith("\n")
    assert read_outbox(outbox) == [
        {"to": PHONE, "text": "code 111111", "code": "111111"},
        {"to": "+998935550011", "text": "hello", "code": None},
    ]


def test_console_keeps_cyrillic_and_uzbek_text_readable(tmp_path: Path) -> None:
    outbox = tmp_path / "sms-outbox.jsonl"
    # U+02BB is the modifier letter of Uzbek Latin (as in "o'zbek"); JSON must keep it raw.
    text = "Ваш код: 123456. Tasdiqlash kodi — o\u02bbzbekcha: 123456"

    ConsoleSms(outbox).send(SmsMessage(to=PHONE, text=text, code="123456"))

    assert read_outbox(outbox)[0]["text"] == text
    assert text in outbox.read_text(encoding="utf-8")
    assert len(outbox.read_text(encoding="utf-8").splitlines()) == 1


def test_console_logs_each_message(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ovoz.sms")

    ConsoleSms(tmp_path / "outbox.jsonl").send(message())

    assert [r.name for r in caplog.records] == ["ovoz.sms"]
    assert PHONE in caplog.records[0].getMessage()


def test_concurrent_console_sends_give_intact_lines(tmp_path: Path) -> None:
    outbox = tmp_path / "sms-outbox.jsonl"
    sms = ConsoleSms(outbox)
    start = threading.Barrier(8)

    def send(index: int) -> None:
        start.wait()
        sms.send(SmsMessage(to=f"+99890000000{index}", text=str(index) * 50_000, code=str(index)))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = read_outbox(outbox)
    assert sorted(str(line["code"]) for line in lines) == [str(i) for i in range(8)]
    assert all(line["text"] == str(line["code"]) * 50_000 for line in lines)
