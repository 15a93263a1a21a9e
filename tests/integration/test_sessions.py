"""Sessions: refresh-token rotation, reuse detection, expiry, revocation (here and in
another API process), the browser cookie, and erasure with the account."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from http.cookies import SimpleCookie
from typing import Any

import psycopg
import pytest
from starlette.applications import Starlette

from domain.errors import SubjectErasedError
from domain.sessions import InvalidSessionError, parse_refresh_token
from graphql_api.app import create_app
from graphql_api.identity.sessions import device_label
from infrastructure.bootstrap import Ovoz, services_of
from tests.conftest import FakeClock
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import ALICE, BOB, CODES, USERS_ENV, asgi, wait_until

FIREFOX = "Mozilla/5.0 (Android 14; Mobile; rv:132.0) Gecko/132.0 Firefox/132.0"
TOKEN_FIELDS = "accessToken refreshToken sessionId expiresIn userId phoneNumber role"
VERIFY = f"""mutation($p: String!, $c: String!, $t: ClientType! = API) {{
  verifyOtp(phoneNumber: $p, otpCode: $c, clientType: $t) {{
    __typename ... on Token {{ {TOKEN_FIELDS} }} ... on Error {{ code message }} }} }}"""
REFRESH = f"""mutation($r: String) {{ refreshSession(refreshToken: $r) {{
  __typename ... on Token {{ {TOKEN_FIELDS} }} ... on Error {{ code message }} }} }}"""
SESSIONS = "{ sessions { id device ipAddress clientType current createdAt lastUsedAt expiresAt } }"
ME = "{ me { id } }"
DAY = 86400.0


@pytest.fixture
def ovoz(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


@pytest.fixture
def app(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=False)


_clock: list[FakeClock] = []


@pytest.fixture(autouse=True)
def _resend_cooldowns_pass(clock: FakeClock) -> None:
    """Each sign-in here is a new device a minute later (past the resend cooldown)."""
    _clock[:] = [clock]


def post(
    app: Starlette,
    query: str,
    token: str | None = None,
    path: str = "/graphql",
    headers: dict[str, str] | None = None,
    **variables: Any,
) -> tuple[dict[str, Any], Any]:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    response = asgi(app, "POST", path, json={"query": query, "variables": variables}, headers=sent)
    assert response.status_code == 200, response.text
    return response.json(), response


def sign_in(app: Starlette, phone: str = ALICE, **extra: Any) -> dict[str, Any]:
    _clock[0].advance(61)
    post(app, "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }", p=phone)
    body, _ = post(app, VERIFY, headers={"User-Agent": FIREFOX}, p=phone, c=CODES[phone], **extra)
    token: dict[str, Any] = body["data"]["verifyOtp"]
    assert token["__typename"] == "Token", token
    return token


def refresh(app: Starlette, refresh_token: str | None, **kwargs: Any) -> dict[str, Any]:
    body, _ = post(app, REFRESH, r=refresh_token, **kwargs)
    result: dict[str, Any] = body["data"]["refreshSession"]
    return result


def authenticated(app: Starlette, access_token: str) -> bool:
    body, _ = post(app, ME, access_token)
    if "errors" in body:
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        return False
    return True


def event_count(ovoz: Ovoz) -> int:
    return ovoz.identity.recorder.max_notification_id() or 0


def test_a_sign_in_starts_a_session_with_a_short_access_token_and_a_refresh_token(
    app: Starlette,
) -> None:
    token = sign_in(app)
    assert token["expiresIn"] == 900
    parsed = parse_refresh_token(token["refreshToken"])
    assert parsed is not None
    assert str(parsed[0]) == token["sessionId"]
    assert len(parsed[1]) >= 43  # 256 bits, base64url
    body, _ = post(app, SESSIONS, token["accessToken"])
    [session] = body["data"]["sessions"]
    assert session["id"] == token["sessionId"]
    assert session["current"] is True
    assert session["device"] == "Firefox on Android"
    assert session["clientType"] == "API"
    assert session["ipAddress"] == "127.0.0.1"


def test_refreshing_rotates_the_token_and_the_spent_one_revokes_the_session(
    app: Starlette, clock: FakeClock
) -> None:
    first = sign_in(app)
    second = refresh(app, first["refreshToken"])
    assert second["__typename"] == "Token"
    assert second["refreshToken"] != first["refreshToken"]
    assert second["sessionId"] == first["sessionId"]
    assert authenticated(app, second["accessToken"])
    # The spent token again, past the grace a lost answer gets: someone else has it.
    # The whole session ends.
    clock.advance(31)
    replayed = refresh(app, first["refreshToken"])
    assert replayed["__typename"] == "InvalidSession"
    assert replayed["code"] == "INVALID_SESSION"
    assert refresh(app, second["refreshToken"])["__typename"] == "InvalidSession"
    assert not authenticated(app, second["accessToken"])
    assert not authenticated(app, first["accessToken"])


def test_a_refresh_whose_answer_was_lost_can_be_repeated_within_the_grace(
    ovoz: Ovoz, app: Starlette, clock: FakeClock
) -> None:
    """A browser that reloads while its refresh is in flight never gets the new cookie
    and presents the token just spent: within SESSION_REFRESH_GRACE_SECONDS (30) that is
    the same client, not a thief, and the session goes on."""
    first = sign_in(app)
    lost = refresh(app, first["refreshToken"])  # the answer never reached the browser
    assert lost["__typename"] == "Token"
    clock.advance(5)
    again = refresh(app, first["refreshToken"])
    assert again["__typename"] == "Token"
    assert again["refreshToken"] not in (first["refreshToken"], lost["refreshToken"])
    assert again["sessionId"] == first["sessionId"]
    assert authenticated(app, again["accessToken"])
    # Only the token the last refresh spent has that grace: the first one is two refreshes
    # old now, and presenting it is reuse.
    assert refresh(app, first["refreshToken"])["__typename"] == "InvalidSession"
    assert refresh(app, again["refreshToken"])["__typename"] == "InvalidSession"
    assert not authenticated(app, again["accessToken"])


def test_two_refreshes_of_one_token_at_once_both_go_on_and_later_reuse_ends_it(
    ovoz: Ovoz, app: Starlette, clock: FakeClock
) -> None:
    token = sign_in(app)["refreshToken"]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def go() -> None:
        start.wait()
        try:
            ovoz.sessions.refresh(token, None)
            outcomes.append("refreshed")
        except InvalidSessionError:
            outcomes.append("invalid")

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Two tabs (or a retry) at the same instant: the loser of the race reads again and
    # finds the token spent by the refresh just made, within the grace. Both go on...
    assert outcomes == ["refreshed", "refreshed"]
    session_id = uuid.UUID(hex=token[len("ovozrt_") : len("ovozrt_") + 32])
    session = ovoz.sessions.get(session_id)
    assert session is not None
    assert session.ended is None
    # ...and the original token, presented once the grace is over, is reuse.
    clock.advance(31)
    with pytest.raises(InvalidSessionError):
        ovoz.sessions.refresh(token, None)
    session = ovoz.sessions.get(session_id)
    assert session is not None
    assert session.ended is not None


def test_sessions_slide_with_use_and_end_idle_or_at_their_lifetime(
    app: Starlette, clock: FakeClock
) -> None:
    token = sign_in(app)["refreshToken"]
    outcomes = []
    for _ in range(4):  # a refresh every 25 days, each within the 30-day idle timeout...
        clock.advance(25 * DAY)
        result = refresh(app, token)
        outcomes.append(result["__typename"])
        token = result.get("refreshToken") or token
    # ...carries it to day 75, but not past its 90-day lifetime (day 100).
    assert outcomes == ["Token", "Token", "Token", "InvalidSession"]
    idle = sign_in(app, BOB)["refreshToken"]
    clock.advance(30 * DAY + 1)
    assert refresh(app, idle)["__typename"] == "InvalidSession"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "ovozrt_",
        "ovozrt_" + "0" * 32,
        "ovozrt_" + "z" * 32 + "_" + "a" * 43,
        "ovozrt_" + uuid.uuid4().hex + "_" + "a" * 43,
        "ovozrt_" + "0" * 32 + "_" + "é" * 43,
        "Bearer abc",
        "a" * 10_000,
    ],
)
def test_garbage_refresh_tokens_are_invalid_and_change_nothing(
    ovoz: Ovoz, app: Starlette, garbage: str
) -> None:
    sign_in(app)
    before = event_count(ovoz)
    assert refresh(app, garbage)["__typename"] == "InvalidSession"
    assert event_count(ovoz) == before


def test_a_forged_secret_for_someone_elses_session_changes_nothing(
    ovoz: Ovoz, app: Starlette
) -> None:
    victim = sign_in(app)
    session_id = victim["sessionId"].replace("-", "")
    before = event_count(ovoz)
    assert refresh(app, f"ovozrt_{session_id}_{'A' * 43}")["__typename"] == "InvalidSession"
    truncated = victim["refreshToken"][:-5]
    assert refresh(app, truncated)["__typename"] == "InvalidSession"
    assert event_count(ovoz) == before
    assert refresh(app, victim["refreshToken"])["__typename"] == "Token"  # still theirs


def test_sign_out_ends_this_session_at_once(app: Starlette) -> None:
    here = sign_in(app)
    there = sign_in(app)
    body, _ = post(
        app, "mutation { signOut { ... on SignedOut { sessionsEnded } } }", here["accessToken"]
    )
    assert body["data"]["signOut"] == {"sessionsEnded": 1}
    assert not authenticated(app, here["accessToken"])
    assert refresh(app, here["refreshToken"])["__typename"] == "InvalidSession"
    assert authenticated(app, there["accessToken"])  # the other device stays signed in
    body, _ = post(app, SESSIONS, there["accessToken"])
    assert [s["id"] for s in body["data"]["sessions"]] == [there["sessionId"]]


def test_sign_out_everywhere_ends_every_session(app: Starlette) -> None:
    ended_before = sign_in(app)
    post(app, "mutation { signOut { __typename } }", ended_before["accessToken"])
    sessions = [sign_in(app) for _ in range(3)]
    other = sign_in(app, BOB)
    query = "mutation { signOutEverywhere { ... on SignedOut { sessionsEnded } } }"
    body, _ = post(app, query, sessions[0]["accessToken"])
    # The three live ones; the one signed out before is not ended again.
    assert body["data"]["signOutEverywhere"] == {"sessionsEnded": 3}
    for session in sessions:
        assert not authenticated(app, session["accessToken"])
        assert refresh(app, session["refreshToken"])["__typename"] == "InvalidSession"
    assert authenticated(app, other["accessToken"])


def test_revoking_a_session_by_id_and_other_users_ids_look_missing(
    ovoz: Ovoz, app: Starlette
) -> None:
    mine = sign_in(app)
    phone = sign_in(app)
    bobs = sign_in(app, BOB)
    revoke = """mutation($id: ID!) { revokeSession(id: $id) {
      __typename ... on RevokedSession { id } ... on Error { code message } } }"""
    before = event_count(ovoz)
    for foreign in (bobs["sessionId"], str(uuid.uuid4()), "not-a-uuid", ""):
        body, _ = post(app, revoke, mine["accessToken"], id=foreign)
        assert body["data"]["revokeSession"]["code"] == "NOT_FOUND", foreign
    assert event_count(ovoz) == before
    assert authenticated(app, bobs["accessToken"])
    body, _ = post(app, revoke, mine["accessToken"], id=phone["sessionId"])
    assert body["data"]["revokeSession"] == {
        "__typename": "RevokedSession",
        "id": phone["sessionId"],
    }
    assert not authenticated(app, phone["accessToken"])
    assert authenticated(app, mine["accessToken"])


def test_an_ended_session_stops_working_in_another_api_process_at_once(
    make_ovoz: MakeOvoz,
) -> None:
    one = make_ovoz(**USERS_ENV)
    two = make_ovoz(**USERS_ENV)
    app_one = create_app(services_of(one), production=False)
    app_two = create_app(services_of(two), production=False)
    token = sign_in(app_one)
    assert authenticated(app_two, token["accessToken"])
    post(app_one, "mutation { signOut { __typename } }", token["accessToken"])
    # Told by NOTIFY: no cache in the other process keeps the token alive.
    assert wait_until(lambda: not authenticated(app_two, token["accessToken"]), timeout=5)


def test_a_process_that_starts_later_knows_of_sessions_ended_before(
    make_ovoz: MakeOvoz,
) -> None:
    one = make_ovoz(**USERS_ENV)
    app_one = create_app(services_of(one), production=False)
    token = sign_in(app_one)
    post(app_one, "mutation { signOut { __typename } }", token["accessToken"])
    later = make_ovoz(**USERS_ENV)
    app_later = create_app(services_of(later), production=False)
    assert wait_until(lambda: not authenticated(app_later, token["accessToken"]), timeout=5)


def _set_cookie(response: Any) -> SimpleCookie:
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies


def test_browser_mode_keeps_the_refresh_token_in_a_strict_http_only_cookie(
    app: Starlette,
) -> None:
    _clock[0].advance(61)
    post(app, "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }", p=ALICE)
    body, response = post(
        app, VERIFY, headers={"Host": "127.0.0.1:8000"}, p=ALICE, c=CODES[ALICE], t="BROWSER"
    )
    token = body["data"]["verifyOtp"]
    assert token["refreshToken"] is None  # never where a script can read it
    raw = response.headers["set-cookie"]
    cookie = _set_cookie(response)["ovoz_refresh"]
    assert cookie["max-age"] == str(90 * 86400)  # the session's whole lifetime, no more
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/graphql/session"
    assert "HttpOnly" in raw
    assert "Secure" in raw
    assert "SameSite=strict" in raw
    jar = f"ovoz_refresh={cookie.value}"

    # A cross-site form cannot add the header: without it the cookie is not read.
    refused = refresh(app, None, path="/graphql/session", headers={"Cookie": jar})
    assert refused["__typename"] == "InvalidSession"
    # Nor is it read anywhere but on its path.
    elsewhere = refresh(app, None, headers={"Cookie": jar, "X-Ovoz-CSRF": "1"})
    assert elsewhere["__typename"] == "InvalidSession"

    _clock[0].advance(1000)
    body, response = post(
        app,
        REFRESH,
        path="/graphql/session",
        headers={"Cookie": jar, "X-Ovoz-CSRF": "1"},
        r=None,
    )
    refreshed = body["data"]["refreshSession"]
    assert refreshed["__typename"] == "Token"
    assert refreshed["refreshToken"] is None
    rotated = _set_cookie(response)["ovoz_refresh"]
    assert rotated["max-age"] == str(90 * 86400 - 1000)  # what the session has left
    assert rotated.value != cookie.value
    assert rotated["httponly"] is True
    assert authenticated(app, refreshed["accessToken"])

    # Signing out clears the cookie.
    _, response = post(
        app,
        "mutation { signOut { __typename } }",
        refreshed["accessToken"],
        path="/graphql/session",
        headers={"X-Ovoz-CSRF": "1"},
    )
    cleared = _set_cookie(response)["ovoz_refresh"]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"


def test_the_cookie_is_secure_except_on_plain_http_to_another_machine_in_development(
    ovoz: Ovoz,
) -> None:
    """A browser drops a Secure cookie that plain http sets (localhost aside): a phone
    trying a development server on the LAN would be signed out on every reload."""

    def cookie_for(app: Starlette, phone: str, host: str, **headers: str) -> Any:
        _clock[0].advance(61)
        sent = {"Host": host, **headers}
        post(app, "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }",
             headers=sent, p=phone)  # fmt: skip
        _, response = post(app, VERIFY, headers=sent, p=phone, c=CODES[phone], t="BROWSER")
        return _set_cookie(response)["ovoz_refresh"]

    development = create_app(services_of(ovoz), production=False)
    assert cookie_for(development, ALICE, "localhost:8000")["secure"] is True
    assert cookie_for(development, ALICE, "192.168.1.5:8000")["secure"] == ""
    production = create_app(replace(services_of(ovoz), production=True), production=True)
    assert cookie_for(production, BOB, "192.168.1.5:8000")["secure"] is True


def test_deleting_the_account_ends_and_erases_its_sessions(
    ovoz: Ovoz, app: Starlette, database_url: str, schema: str
) -> None:
    first = sign_in(app)
    second = sign_in(app)
    body, _ = post(app, "mutation { deleteAccount { __typename } }", first["accessToken"])
    assert body["data"]["deleteAccount"]["__typename"] == "DeletedAccount"
    for token in (first, second):
        assert refresh(app, token["refreshToken"])["__typename"] == "InvalidSession"
        assert not authenticated(app, token["accessToken"])
        with pytest.raises(SubjectErasedError):
            ovoz.identity.repository.get(uuid.UUID(token["sessionId"]))
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT count(*) FROM {schema}.sessions WHERE id = ANY(%s)",
            ([uuid.UUID(first["sessionId"]), uuid.UUID(second["sessionId"])],),
        ).fetchone()
    assert rows == (0,)


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Windows",
        ),
        ("curl/8.5.0", "curl 8.5.0"),
        (None, "Unknown device"),
        ("<script>alert(1)</script>/1", "scriptalert(1) script/1"),
        ("\x00\x01", "Unknown device"),
    ],
)
def test_the_device_label_names_the_browser_and_system_and_holds_no_markup(
    user_agent: str | None, label: str
) -> None:
    assert device_label(user_agent) == label


def test_a_long_used_session_loads_from_its_snapshot_as_it_was(
    ovoz: Ovoz, app: Starlette, database_url: str, schema: str
) -> None:
    _clock[0].advance(61)
    post(app, "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }", p=ALICE)
    body, response = post(app, VERIFY, p=ALICE, c=CODES[ALICE], t="BROWSER")
    session_id = uuid.UUID(body["data"]["verifyOtp"]["sessionId"])
    spent_early = _set_cookie(response)["ovoz_refresh"].value
    current = ovoz.sessions.refresh(spent_early, None).refresh_token
    for _ in range(120):  # past two snapshots (every 50 events)
        current = ovoz.sessions.refresh(current, None).refresh_token
    with psycopg.connect(database_url) as conn:
        snapshots = conn.execute(
            f"SELECT count(*) FROM {schema}.identity_snapshots WHERE originator_id = %s",
            (session_id,),
        ).fetchone()
    assert snapshots is not None
    assert snapshots[0] >= 2
    loaded = ovoz.sessions.get(session_id)
    assert loaded is not None
    assert loaded.client_type.value == "BROWSER"
    assert loaded.ended is None
    # A token spent long before the snapshots is still known for what it is.
    with pytest.raises(InvalidSessionError):
        ovoz.sessions.refresh(spent_early, None)
    ended = ovoz.sessions.get(session_id)
    assert ended is not None
    assert ended.ended is not None
    assert ended.ended.value == "REUSE_DETECTED"
