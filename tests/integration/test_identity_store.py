"""The identity event store, its encryption and the users projection, on real PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from domain.errors import InvalidOtpError, RateLimitedError
from domain.phone import phone_subject_id
from domain.signin import CodeSent, SignedIn
from infrastructure.bootstrap import Ovoz
from infrastructure.hashing import Argon2Hasher
from tests.conftest import RecordingSms
from tests.integration.conftest import MakeOvoz

PHONE = "+998901234567"
PHONE_FORMS = ("+998901234567", "998901234567", "901234567")


# -- helpers -----------------------------------------------------------------------------


class RacingHasher(Argon2Hasher):
    """The real hasher, which lets ``meanwhile`` run while it hashes a code."""

    def __init__(self, pepper: bytes, meanwhile: Callable[[], None]) -> None:
        super().__init__(pepper)
        self._meanwhile = meanwhile

    def hash(self, secret: str) -> str:
        hashed = super().hash(secret)
        self._meanwhile()
        return hashed


def connect(database_url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(database_url, autocommit=True)


def events(database_url: str, schema: str) -> list[dict[str, Any]]:
    """Every stored identity event, in log order."""
    with connect(database_url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            sql.SQL("SELECT * FROM {}.identity_events ORDER BY notification_id").format(
                sql.Identifier(schema)
            )
        )
        return list(cur.fetchall())


def event_names(database_url: str, schema: str) -> list[str]:
    return [row["topic"].rsplit(".", 1)[-1] for row in events(database_url, schema)]


def schema_tables(database_url: str, schema: str) -> list[str]:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    return sorted(r[0] for r in rows)


def dump_table(database_url: str, schema: str, table: str) -> str:
    with connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT t::text FROM {}.{} AS t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
        ).fetchall()
    return "\n".join(r[0] for r in rows)


def sign_in(ovoz: Ovoz, sms: RecordingSms, phone: str) -> SignedIn:
    ovoz.identity.send_code(phone)
    return ovoz.identity.verify_code(phone, sms.last_code())


def user_count(ovoz: Ovoz, user_ids: list[UUID]) -> int:
    """How many rows of the users read model have these ids (wherever the view keeps it)."""
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT count(*) AS n FROM users WHERE id = ANY(%s)", (user_ids,))
        row = curs.fetchone()
    assert row is not None
    return int(row["n"])


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def phone_encodings(phone: str) -> list[str]:
    """A phone number as it could show up in a text dump of a row."""
    found: list[str] = []
    for form in (phone, phone.lstrip("+"), phone[-9:]):
        raw = form.encode()
        found += [form, raw.hex(), form.encode("utf-16-le").hex()]
        for offset in range(3):  # base64 depends on alignment: try every one
            chunk = base64.b64encode(raw[offset:]).decode().rstrip("=")
            found.append(chunk[: (len(raw) - offset) // 3 * 4])
    return sorted({f for f in found if len(f) >= 8})


def code_leaks(code: str, dump: str) -> bool:
    """The code as text (not as a piece of a hex string or microseconds) or as hex bytes."""
    plain = re.compile(rf"(?<![0-9a-fA-F.]){code}(?![0-9a-fA-F])")
    return bool(plain.search(dump)) or code.encode().hex() in dump


# -- events in the store -----------------------------------------------------------------


def test_sign_in_records_the_design_events(
    ovoz: Ovoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    ovoz.identity.send_code(PHONE)
    assert event_names(database_url, schema)[-1] == "OtpRequested"

    wrong = f"{(int(sms.last_code()) + 1) % 10**6:06d}"
    with pytest.raises(InvalidOtpError):
        ovoz.identity.verify_code(PHONE, wrong)
    assert event_names(database_url, schema)[-1] == "OtpAttemptFailed"

    signed_in = ovoz.identity.verify_code(PHONE, sms.last_code())
    names = event_names(database_url, schema)
    for name in ("OtpRequested", "OtpAttemptFailed", "OtpVerified", "UserRegistered"):
        assert names.count(name) == 1, names
    assert names.index("OtpRequested") < names.index("OtpAttemptFailed")
    assert names.index("OtpAttemptFailed") < names.index("OtpVerified")
    stored = events(database_url, schema)
    registered = [r for r in stored if r["topic"].endswith("UserRegistered")]
    assert registered[0]["originator_id"] == signed_in.user_id
    assert signed_in.position == max(r["notification_id"] for r in stored)


def test_no_code_or_phone_outside_the_users_read_model(
    ovoz: Ovoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    ovoz.identity.send_code(PHONE)
    first_code = sms.last_code()
    with pytest.raises(InvalidOtpError):
        ovoz.identity.verify_code(PHONE, f"{(int(first_code) + 7) % 10**6:06d}")
    signed_in = ovoz.identity.verify_code(PHONE, first_code)
    assert ovoz.wait_for("identity", signed_in.position)

    needles = phone_encodings(PHONE)
    # The scan can see a phone number: the users read model holds one, by design.
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT u::text AS t FROM users u WHERE id = %s", (signed_in.user_id,))
        row = curs.fetchone()
    assert row is not None
    assert any(needle in row["t"] for needle in needles)

    tables = schema_tables(database_url, schema)
    assert "identity_events" in tables
    for table in tables:
        if table == "users":
            continue
        dump = dump_table(database_url, schema, table)
        for needle in needles:
            assert needle not in dump, f"{needle!r} found in {table}"
        assert not code_leaks(first_code, dump), f"code found in {table}"


def test_payloads_are_encrypted_and_timestamps_readable(
    ovoz: Ovoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    before = datetime.now(tz=UTC) - timedelta(seconds=5)
    sign_in(ovoz, sms, PHONE)
    after = datetime.now(tz=UTC) + timedelta(seconds=5)
    stored = events(database_url, schema)
    assert len(stored) >= 4
    for row in stored:
        state = bytes(row["state"])
        assert state.startswith(b"OVZ1")
        (header_len,) = struct.unpack(">H", state[4:6])
        header = json.loads(state[6 : 6 + header_len])
        assert set(header) == {"ts"}
        assert before <= datetime.fromisoformat(header["ts"]) <= after
        body = state[6 + header_len :]
        assert PHONE.encode() not in body
        assert b"phone" not in body
        assert b"code_hash" not in body
        assert b"argon2" not in body


def test_challenge_ids_need_the_hmac_key(
    make_ovoz: MakeOvoz, database_url: str, schema: str
) -> None:
    key_a, key_b = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    make_ovoz(start=False, PHONE_HMAC_KEY=key_a).identity.send_code(PHONE)
    make_ovoz(start=False, PHONE_HMAC_KEY=key_b).identity.send_code(PHONE)

    challenge_ids = {
        r["originator_id"]
        for r in events(database_url, schema)
        if r["topic"].endswith("OtpChallenge.OtpRequested")
    }
    expected_a = phone_subject_id(key_a.encode(), "otp", PHONE)
    expected_b = phone_subject_id(key_b.encode(), "otp", PHONE)
    assert challenge_ids == {expected_a, expected_b}
    assert expected_a != expected_b

    keyless = set()
    for form in PHONE_FORMS:
        raw = form.encode()
        keyless |= {
            uuid.uuid5(uuid.NAMESPACE_OID, form),
            uuid.uuid5(uuid.NAMESPACE_URL, form),
            uuid.uuid5(uuid.NAMESPACE_DNS, form),
            uuid.uuid3(uuid.NAMESPACE_OID, form),
            UUID(bytes=hashlib.md5(raw).digest()),
            UUID(bytes=hashlib.sha256(raw).digest()[:16]),
            UUID(bytes=hashlib.sha256(raw).digest()[:16], version=4),
            UUID(bytes=hashlib.sha256(b"otp\x00" + raw).digest()[:16], version=4),
            phone_subject_id(b"", "otp", form),
        }
    assert not challenge_ids & keyless
    for challenge_id in challenge_ids:
        for form in PHONE_FORMS:
            assert form.lstrip("+") not in challenge_id.hex


def test_every_table_lives_in_the_configured_schema(
    ovoz: Ovoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    sign_in(ovoz, sms, PHONE)
    tables = schema_tables(database_url, schema)
    assert {"identity_events", "users", "users_tracking", "subject_keys"} <= set(tables)


# -- concurrency -------------------------------------------------------------------------


def test_concurrent_verify_of_one_code_lets_exactly_one_win(
    make_ovoz: MakeOvoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    instances = [make_ovoz(start=False) for _ in range(3)]
    instances[0].identity.send_code(PHONE)
    code = sms.last_code()
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[object] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            outcome: object = instances[i % len(instances)].identity.verify_code(PHONE, code)
        except Exception as e:  # anything but InvalidOtpError fails the test below
            outcome = e
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == threads_n
    winners = [r for r in results if isinstance(r, SignedIn)]
    losers = [r for r in results if not isinstance(r, SignedIn)]
    assert len(winners) == 1, results
    assert all(isinstance(r, InvalidOtpError) for r in losers), losers
    names = event_names(database_url, schema)
    assert names.count("OtpVerified") == 1
    assert names.count("UserRegistered") == 1
    assert "OtpAttemptFailed" not in names
    # The code is spent: it cannot be used again.
    with pytest.raises(InvalidOtpError):
        instances[1].identity.verify_code(PHONE, code)


def test_concurrent_wrong_guesses_are_each_counted(
    make_ovoz: MakeOvoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    """A burst of guesses cannot slip past the failure limit by racing on the challenge:
    each answered guess is a counted failure, the rest are refused unjudged."""
    instances = [make_ovoz(start=False) for _ in range(2)]
    instances[0].identity.send_code(PHONE)
    wrong = f"{(int(sms.last_code()) + 1) % 1_000_000:06d}"
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[object] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        barrier.wait()
        try:
            outcome: object = instances[i % 2].identity.verify_code(PHONE, wrong)
        except Exception as e:
            outcome = e
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == threads_n
    answered = [r for r in results if isinstance(r, InvalidOtpError)]
    refused = [r for r in results if isinstance(r, RateLimitedError)]
    assert len(answered) + len(refused) == threads_n, results
    assert event_names(database_url, schema).count("OtpAttemptFailed") == len(answered)
    assert 1 <= len(answered) <= 5


def test_a_send_that_keeps_losing_races_is_rate_limited_not_an_internal_error(
    make_ovoz: MakeOvoz, sms: RecordingSms, clock: Any, database_url: str, schema: str
) -> None:
    """Each time the sender has read the challenge and hashes its code, another process
    records a wrong guess at the same number first: every save conflicts."""
    sender, guesser = make_ovoz(start=False), make_ovoz(start=False)
    sender.identity.send_code(PHONE)
    first_code = sms.last_code()
    clock.advance(61)
    wrong = f"{(int(first_code) + 1) % 10**6:06d}"
    guesses: list[object] = []

    def guess_elsewhere() -> None:
        def guess() -> None:
            try:
                guesser.identity.verify_code(PHONE, wrong, f"203.0.113.{len(guesses)}")
            except InvalidOtpError as e:
                guesses.append(e)

        other = threading.Thread(target=guess)
        other.start()
        other.join(30)

    sender.identity.services = replace(
        sender.identity.services,
        hasher=RacingHasher(sender.settings.otp_pepper, guess_elsewhere),
    )
    with pytest.raises(RateLimitedError):
        sender.identity.send_code(PHONE)
    names = event_names(database_url, schema)
    assert len(guesses) == names.count("OtpAttemptFailed") == 3  # one per try, each counted
    assert names.count("OtpRequested") == 1
    assert len(sms.sent) == 1  # no code was sent that is not stored
    # The first code survived three wrong guesses: the owner can still use it.
    assert sender.identity.verify_code(PHONE, first_code, "198.51.100.20").phone == PHONE


def test_concurrent_sends_and_guesses_at_one_number_end_in_typed_answers(
    make_ovoz: MakeOvoz, sms: RecordingSms, clock: Any, database_url: str, schema: str
) -> None:
    instances = [make_ovoz(start=False) for _ in range(3)]
    instances[0].identity.send_code(PHONE)
    wrong = f"{(int(sms.last_code()) + 1) % 10**6:06d}"
    clock.advance(61)
    threads_n = 12
    barrier = threading.Barrier(threads_n)
    results: list[object] = []
    lock = threading.Lock()

    def act(i: int) -> None:
        identity = instances[i % len(instances)].identity
        barrier.wait()
        try:
            outcome: object = (
                identity.send_code(PHONE)
                if i % 2 == 0
                else identity.verify_code(PHONE, wrong, f"203.0.113.{i}")
            )
        except Exception as e:  # anything but the typed answers fails the test below
            outcome = e
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=act, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == threads_n
    typed = (CodeSent, RateLimitedError, InvalidOtpError)
    assert all(isinstance(r, typed) for r in results), results
    sent = [r for r in results if isinstance(r, CodeSent)]
    assert len(sent) <= 1  # the resend cooldown holds under the race
    names = event_names(database_url, schema)
    assert names.count("OtpRequested") == 1 + len(sent) == len(sms.sent)


# -- the users projection ----------------------------------------------------------------


def test_verify_is_readable_from_the_users_view(ovoz: Ovoz, sms: RecordingSms) -> None:
    signed_in = sign_in(ovoz, sms, PHONE)
    assert ovoz.wait_for("identity", signed_in.position)
    row = ovoz.users.get(signed_in.user_id)
    assert row is not None
    assert row.phone == PHONE
    assert row.role.value == "USER"
    assert ovoz.projections["users"].position() >= signed_in.position


def test_second_sign_in_reuses_the_user_and_projects_role_change(
    make_ovoz: MakeOvoz, sms: RecordingSms, clock: Any
) -> None:
    first = make_ovoz()
    user = sign_in(first, sms, PHONE)
    clock.advance(61)
    admin_app = make_ovoz(start=False, ADMIN_PHONE_NUMBERS=PHONE)
    again = sign_in(admin_app, sms, PHONE)
    assert again.user_id == user.user_id
    assert again.role.value == "ADMIN"
    assert first.wait_for("identity", again.position)
    row = first.users.get(user.user_id)
    assert row is not None
    assert row.role.value == "ADMIN"
    assert user_count(first, [user.user_id]) == 1


def test_stopped_projection_resumes_without_missing_or_doubling(
    make_ovoz: MakeOvoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    phones = [f"+99890{n:07d}" for n in range(1234560, 1234566)]
    writer = make_ovoz(start=False)
    first_half = [sign_in(writer, sms, p) for p in phones[:3]]

    runner = make_ovoz(start=False)
    projection = runner.projections["users"]
    projection.start()
    assert projection.wait(first_half[0].position, 10)
    projection.stop()
    stopped_at = projection.position()
    assert stopped_at >= first_half[0].position

    second_half = [sign_in(writer, sms, p) for p in phones[3:]]
    everyone = [s.user_id for s in first_half + second_half]
    assert runner.users.get(second_half[-1].user_id) is None  # nobody projects now

    resumed = make_ovoz()
    assert resumed.wait_for("identity", second_half[-1].position)
    assert user_count(resumed, everyone) == len(phones)
    assert {resumed.users.get(u).phone for u in everyone} == set(phones)  # type: ignore[union-attr]
    last = max(r["notification_id"] for r in events(database_url, schema))
    assert resumed.projections["users"].position() == last
    assert resumed.projections["users"].failures == 0  # a replayed event fails its tracking


def test_runner_restarts_after_its_listen_connection_dies(
    make_ovoz: MakeOvoz,
    sms: RecordingSms,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_name = f"ovoz-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("PGAPPNAME", app_name)  # names this test's connections only
    ovoz = make_ovoz()
    projection = ovoz.projections["users"]
    before = sign_in(ovoz, sms, "+998901111111")
    assert ovoz.wait_for("identity", before.position)

    with connect(database_url) as admin:

        def listeners() -> list[int]:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE application_name = %s AND query ILIKE 'LISTEN%%'",
                (app_name,),
            ).fetchall()
            return [r[0] for r in rows]

        assert eventually(lambda: bool(listeners()))
        for pid in listeners():
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert eventually(lambda: projection.failures >= 1)
        # A fresh subscription listens again.
        assert eventually(lambda: bool(listeners()))

    after = sign_in(ovoz, sms, "+998902222222")
    assert ovoz.wait_for("identity", after.position)
    assert ovoz.users.get(after.user_id) is not None
    assert user_count(ovoz, [before.user_id, after.user_id]) == 2


def test_api_only_process_sees_writes_projected_elsewhere(
    make_ovoz: MakeOvoz, sms: RecordingSms
) -> None:
    api = make_ovoz(start=False)
    signed_in = sign_in(api, sms, PHONE)
    # Nobody projects yet: the bounded wait gives up.
    assert not api.projections["users"].wait(signed_in.position, 0.3)
    assert api.users.get(signed_in.user_id) is None

    make_ovoz(start=True)  # the projector process
    assert api.wait_for("identity", signed_in.position)
    row = api.users.get(signed_in.user_id)
    assert row is not None
    assert row.phone == PHONE
