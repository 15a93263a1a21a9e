"""Signed webhooks end to end on real PostgreSQL with real local receivers: fan-out from
the recordings log, Standard Webhooks signatures (checked by the reference verifier),
retries with the same webhook-id, timeouts, redirects, restarts, the SSRF rules at
creation and at connect time, other users' ids, and erasure with the account."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook as ReferenceVerifier
from starlette.applications import Starlette

from domain.access import Principal
from domain.recordings_app import Recordings
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from infrastructure.webhook_urls import UrlRules
from tests.factories import talk_facts, transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ALICE,
    BOB,
    USERS_ENV,
    asgi,
    gql,
    sign_in,
    token_of,
    wait_until,
)
from tests.integration.webhook_receiver import HANG, Receiver

FAST = {
    **USERS_ENV,
    "WEBHOOK_RETRY_BACKOFF_SECONDS": "0.05",
    "WEBHOOK_TIMEOUT_SECONDS": "1",
}
CREATE = """mutation($url: String!, $events: [WebhookEvent!]!, $text: Boolean! = false) {
  createWebhook(url: $url, events: $events, includeTranscript: $text) {
    __typename
    ... on NewWebhook { secret webhook { id url events includeTranscript createdAt } }
    ... on InvalidWebhookUrl { code message reason }
    ... on WebhookLimitReached { limit }
    ... on Error { code message }
  }
}"""
DELETE = """mutation($id: ID!) { deleteWebhook(id: $id) {
  __typename ... on DeletedWebhook { id } ... on Error { code message } } }"""
LIST = "{ webhooks { id url events } }"
DELIVERIES = """query($id: ID!, $limit: Int! = 50) {
  webhookDeliveries(webhookId: $id, limit: $limit) {
  messageId event attempt attemptedAt httpStatus error responseExcerpt durationMs } }"""
ALL = ["TRANSCRIPTION_COMPLETED", "TRANSCRIPTION_FAILED", "AUDIO_DELETED"]


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(script: list[Any] | None = None, default: int = 200) -> Receiver:
        made.append(Receiver(script, default))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**FAST)


class Caller:
    """One signed-in person speaking GraphQL to the app."""

    def __init__(self, ovoz: Ovoz, app: Starlette, phone: str) -> None:
        self.ovoz = ovoz
        self.app = app
        self.principal = sign_in(ovoz, phone)
        self.token = token_of(ovoz, self.principal)

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        return gql(self.app, self.token, query, **variables)

    def create(self, url: str, events: list[str] = ALL, text: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self.gql(CREATE, url=url, events=events, text=text)
        created: dict[str, Any] = result["createWebhook"]
        return created

    def deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.gql(DELIVERIES, id=webhook_id)["webhookDeliveries"]
        return result


def _app(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=False)


def complete(ovoz: Ovoz, owner: Principal, text: str = "hello world") -> UUID:
    recording_id = Recordings.new_id()
    ovoz.recordings.upload(recording_id, owner.user_id, talk_facts(1))
    ovoz.recordings.start_transcription(recording_id, "test-worker", 1)
    ovoz.recordings.complete_transcription(recording_id, 1, transcript_facts(text))
    return recording_id


def _verified(secret: str, request: Any) -> dict[str, Any]:
    payload: dict[str, Any] = ReferenceVerifier(secret).verify(request.body, request.headers)
    return payload


# -- delivery ---------------------------------------------------------------------------------


def test_a_completion_is_delivered_signed_as_standard_webhooks(
    store: Ovoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    alice = Caller(store, _app(store), ALICE)
    created = alice.create(receiver.url, ["TRANSCRIPTION_COMPLETED"])
    assert created["__typename"] == "NewWebhook", created
    assert created["secret"].startswith("whsec_")
    assert alice.gql(LIST)["webhooks"] == [
        {"id": created["webhook"]["id"], "url": receiver.url, "events": ["TRANSCRIPTION_COMPLETED"]}
    ]
    recording_id = complete(store, alice.principal, "a secret transcript")
    assert wait_until(lambda: len(receiver.requests) == 1)
    request = receiver.requests[0]
    payload = _verified(created["secret"], request)
    assert payload["type"] == "transcription.completed"
    assert payload["data"] == {"audioId": str(recording_id), "status": "COMPLETED", "version": 3}
    assert b"secret transcript" not in request.body  # not asked for
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"].startswith("msg_")
    assert wait_until(lambda: bool(alice.deliveries(created["webhook"]["id"])))
    [delivery] = alice.deliveries(created["webhook"]["id"])
    assert delivery["httpStatus"] == 200
    assert delivery["attempt"] == 1
    assert delivery["event"] == "TRANSCRIPTION_COMPLETED"
    assert delivery["messageId"] == request.headers["webhook-id"]


def test_the_transcript_is_sent_only_to_a_webhook_that_asked_for_it(
    store: Ovoz, receivers: Callable[..., Receiver]
) -> None:
    plain, with_text = receivers(), receivers()
    alice = Caller(store, _app(store), ALICE)
    alice.create(plain.url, ["TRANSCRIPTION_COMPLETED"])
    secret = alice.create(with_text.url, ["TRANSCRIPTION_COMPLETED"], text=True)["secret"]
    complete(store, alice.principal, "words for the subscriber")
    assert wait_until(lambda: len(plain.requests) == 1 and len(with_text.requests) == 1)
    data = _verified(secret, with_text.requests[0])["data"]
    assert data["transcriptText"] == "words for the subscriber"
    assert b"subscriber" not in plain.requests[0].body


def test_a_receiver_that_fails_twice_gets_the_same_message_a_third_time(
    store: Ovoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers([500, 503])
    alice = Caller(store, _app(store), ALICE)
    created = alice.create(receiver.url)
    complete(store, alice.principal)
    assert wait_until(lambda: len(receiver.requests) == 3)
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1
    for request in receiver.requests:
        _verified(created["secret"], request)
    webhook_id = created["webhook"]["id"]
    assert wait_until(lambda: len(alice.deliveries(webhook_id)) == 3)
    newest_first = alice.deliveries(webhook_id)
    assert [d["httpStatus"] for d in newest_first] == [200, 503, 500]
    assert [d["attempt"] for d in newest_first] == [3, 2, 1]
    assert 0 < len(newest_first[1]["responseExcerpt"]) <= 200  # of a 1.5 KB answer
    assert store.webhook_outbox.state_of(ids.pop())["state"] == "delivered"  # type: ignore[index]
    time.sleep(0.5)
    assert len(receiver.requests) == 3  # delivered: never again


def test_a_hanging_receiver_times_out_and_delays_nobody_else(
    store: Ovoz, receivers: Callable[..., Receiver]
) -> None:
    hanging, healthy = receivers([HANG]), receivers()
    alice = Caller(store, _app(store), ALICE)
    bob = Caller(store, alice.app, BOB)
    slow = alice.create(hanging.url)["webhook"]["id"]
    bob.create(healthy.url)
    complete(store, alice.principal)
    assert wait_until(lambda: len(hanging.requests) == 1)
    complete(store, bob.principal)
    started = time.monotonic()
    assert wait_until(lambda: len(healthy.requests) == 1, timeout=5)
    assert time.monotonic() - started < 0.9  # well inside the hanging attempt's 1 s
    began = time.monotonic()
    alice.gql(LIST)  # the API answers while a delivery hangs
    assert time.monotonic() - began < 0.5
    assert wait_until(lambda: bool(alice.deliveries(slow)), timeout=5)
    first = alice.deliveries(slow)[-1]
    assert first["httpStatus"] is None
    assert "timed out" in first["error"]
    assert 900 <= first["durationMs"] < 3000
    assert wait_until(lambda: len(hanging.requests) >= 2)  # and it is retried


def test_a_redirect_is_not_followed(store: Ovoz, receivers: Callable[..., Receiver]) -> None:
    elsewhere = receivers()
    redirecting = receivers([("redirect", elsewhere.url)], default=302)
    redirecting.default = 200
    alice = Caller(store, _app(store), ALICE)
    webhook_id = alice.create(redirecting.url)["webhook"]["id"]
    complete(store, alice.principal)
    assert wait_until(lambda: len(redirecting.requests) == 2)
    assert elsewhere.requests == []
    assert wait_until(lambda: len(alice.deliveries(webhook_id)) == 2)
    assert alice.deliveries(webhook_id)[-1]["httpStatus"] == 302


def test_a_delivery_interrupted_by_a_restart_completes_after_it(
    make_ovoz: MakeOvoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers([500])
    first = make_ovoz(**{**FAST, "WEBHOOK_RETRY_BACKOFF_SECONDS": "2"})
    alice = Caller(first, _app(first), ALICE)
    secret = alice.create(receiver.url)["secret"]
    complete(first, alice.principal)
    assert wait_until(lambda: len(receiver.requests) == 1)
    first.close()
    time.sleep(2.1)
    assert len(receiver.requests) == 1  # nobody is left to retry
    second = make_ovoz(**FAST)
    assert wait_until(lambda: len(receiver.requests) == 2)
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    _verified(secret, receiver.requests[1])
    # Counted once the receiver's answer is read, a moment after the receiver saw it.
    assert wait_until(lambda: second.webhook_dispatcher.delivered == 1)


def test_a_message_is_marked_failed_once_its_retry_time_is_spent(
    make_ovoz: MakeOvoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(default=500)
    store = make_ovoz(**{**FAST, "WEBHOOK_RETRY_FOR_SECONDS": "0.5"})
    alice = Caller(store, _app(store), ALICE)
    alice.create(receiver.url)
    complete(store, alice.principal)
    assert wait_until(lambda: bool(receiver.requests))
    message = receiver.requests[0].headers["webhook-id"]
    assert wait_until(lambda: (store.webhook_outbox.state_of(message) or {})["state"] == "failed")
    count = len(receiver.requests)
    assert count >= 2
    time.sleep(0.5)
    assert len(receiver.requests) == count


def test_deleted_webhooks_get_nothing_more(store: Ovoz, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    alice = Caller(store, _app(store), ALICE)
    webhook_id = alice.create(receiver.url)["webhook"]["id"]
    deleted = alice.gql(DELETE, id=webhook_id)["deleteWebhook"]
    assert deleted == {"__typename": "DeletedWebhook", "id": webhook_id}
    assert alice.gql(LIST)["webhooks"] == []
    recording_id = complete(store, alice.principal)
    store.recordings.delete(alice.principal, recording_id)
    time.sleep(1.0)
    assert receiver.requests == []
    again = alice.gql(DELETE, id=webhook_id)["deleteWebhook"]
    assert again["__typename"] == "NotFound"


def test_an_audio_deletion_is_announced(store: Ovoz, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    alice = Caller(store, _app(store), ALICE)
    secret = alice.create(receiver.url, ["AUDIO_DELETED"])["secret"]
    recording_id = complete(store, alice.principal)
    store.recordings.delete(alice.principal, recording_id)
    assert wait_until(lambda: len(receiver.requests) == 1)
    payload = _verified(secret, receiver.requests[0])
    assert payload["type"] == "audio.deleted"
    assert payload["data"]["audioId"] == str(recording_id)
    assert payload["data"]["status"] == "DELETED"


# -- SSRF -------------------------------------------------------------------------------------


def _production_rules(
    answers: dict[str, list[str]], allowed: frozenset[str] = frozenset()
) -> UrlRules:
    return UrlRules(
        production=True, allowed_hosts=allowed, resolve=lambda host, port: answers[host]
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example/in", "NOT_HTTPS"),
        ("https://127.0.0.1/in", "ADDRESS_NOT_ALLOWED"),
        ("https://169.254.169.254/latest/meta-data", "ADDRESS_NOT_ALLOWED"),
        ("https://10.1.2.3/in", "ADDRESS_NOT_ALLOWED"),
        ("https://[::ffff:127.0.0.1]/in", "ADDRESS_NOT_ALLOWED"),
        ("https://[fd12::1]/in", "ADDRESS_NOT_ALLOWED"),
        ("https://internal.example/in", "ADDRESS_NOT_ALLOWED"),
        ("https://user:pw@hooks.example/in", "CREDENTIALS_IN_URL"),
    ],
)
def test_production_refuses_ssrf_targets_at_creation(
    make_ovoz: MakeOvoz, url: str, reason: str
) -> None:
    store = make_ovoz(start=False, **FAST)
    store.webhook_rules = _production_rules(
        {"hooks.example": ["93.184.216.34"], "internal.example": ["192.168.0.10"]}
    )
    store.start_projections()
    alice = Caller(store, _app(store), ALICE)
    refused = alice.create(url)
    assert refused["__typename"] == "InvalidWebhookUrl"
    assert refused["reason"] == reason
    assert refused["code"] == "INVALID_WEBHOOK_URL"
    assert alice.gql(LIST)["webhooks"] == []


def test_a_name_that_rebinds_to_loopback_is_refused_at_connect_time(
    make_ovoz: MakeOvoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    answers = {"rebind.example": ["93.184.216.34"]}
    store = make_ovoz(start=False, **FAST)
    store.webhook_rules = _production_rules(answers)
    store.start_projections()
    alice = Caller(store, _app(store), ALICE)
    created = alice.create(f"https://rebind.example:{receiver.port}/hook")
    assert created["__typename"] == "NewWebhook"
    answers["rebind.example"] = ["127.0.0.1"]  # the attacker's DNS changes its answer
    complete(store, alice.principal)
    webhook_id = created["webhook"]["id"]
    assert wait_until(lambda: bool(alice.deliveries(webhook_id)))
    attempt = alice.deliveries(webhook_id)[-1]
    assert attempt["httpStatus"] is None
    assert "ADDRESS_NOT_ALLOWED" in attempt["error"]
    assert receiver.requests == []


def test_allowed_hosts_let_production_reach_an_internal_receiver(
    make_ovoz: MakeOvoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    store = make_ovoz(start=False, **FAST, WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    store.webhook_rules = UrlRules(production=True, allowed_hosts=store.webhook_rules.allowed_hosts)
    store.start_projections()
    alice = Caller(store, _app(store), ALICE)
    assert alice.create(receiver.url)["__typename"] == "NewWebhook"
    assert alice.create(receiver.url.replace("127.0.0.1", "localhost"))["reason"] == "NOT_HTTPS"
    complete(store, alice.principal)
    assert wait_until(lambda: len(receiver.requests) == 1)


# -- bad input and other users' ids ----------------------------------------------------------


def test_other_users_and_garbage_ids_are_typed_and_change_nothing(
    store: Ovoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    alice = Caller(store, _app(store), ALICE)
    bob = Caller(store, alice.app, BOB)
    webhook_id = alice.create(receiver.url)["webhook"]["id"]
    complete(store, alice.principal)
    assert wait_until(lambda: bool(alice.deliveries(webhook_id)))
    for garbage in [webhook_id, "garbage", "", "00000000-0000-0000-0000-000000000000", "\u0000"]:
        answer = bob.gql(DELETE, id=garbage)["deleteWebhook"]
        assert answer["__typename"] == "NotFound", garbage
        assert answer["code"] == "NOT_FOUND"
        assert bob.gql(DELIVERIES, id=garbage)["webhookDeliveries"] == []
    assert bob.gql(LIST)["webhooks"] == []
    assert [w["id"] for w in alice.gql(LIST)["webhooks"]] == [webhook_id]
    assert alice.gql(DELIVERIES, id=webhook_id, limit=-5)["webhookDeliveries"] == []
    assert len(alice.gql(DELIVERIES, id=webhook_id, limit=10**9)["webhookDeliveries"]) == 1


def test_events_are_required_deduplicated_and_webhooks_limited(
    make_ovoz: MakeOvoz, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    store = make_ovoz(**FAST, WEBHOOK_MAX_PER_USER="2")
    alice = Caller(store, _app(store), ALICE)
    assert alice.create(receiver.url, [])["code"] == "NO_WEBHOOK_EVENTS"
    twice = alice.create(receiver.url, ["AUDIO_DELETED", "AUDIO_DELETED"])
    assert twice["webhook"]["events"] == ["AUDIO_DELETED"]
    alice.create(receiver.url)
    refused = alice.create(receiver.url)
    assert refused["__typename"] == "WebhookLimitReached"
    assert refused["limit"] == 2
    assert len(alice.gql(LIST)["webhooks"]) == 2


def test_webhooks_are_account_operations_that_need_a_sign_in(store: Ovoz) -> None:
    response = asgi(_app(store), "POST", json={"query": LIST})
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- secrets and erasure ---------------------------------------------------------------------


def _count(database_url: str, schema: str, sql: str, *args: Any) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        row = conn.execute(sql, args).fetchone()
    assert row is not None
    return int(row[0])


def test_the_secret_is_only_in_the_encrypted_event_store(
    store: Ovoz, receivers: Callable[..., Receiver], database_url: str, schema: str
) -> None:
    alice = Caller(store, _app(store), ALICE)
    secret = alice.create(receivers().url)["secret"]
    found = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f'SELECT t::text FROM {schema}."{table}" t').fetchall()
            found += sum(secret in r[0] or secret[6:] in r[0] for r in rows)
    assert found == 0
    assert store.webhooks.load(UUID(alice.gql(LIST)["webhooks"][0]["id"])) is not None


def test_deleting_the_account_erases_its_webhooks_and_their_deliveries(
    store: Ovoz, receivers: Callable[..., Receiver], database_url: str, schema: str
) -> None:
    receiver = receivers()
    alice = Caller(store, _app(store), ALICE)
    bob = Caller(store, alice.app, BOB)
    kept = receivers()
    bob.create(kept.url)
    webhook_id = UUID(alice.create(receiver.url)["webhook"]["id"])
    gone = UUID(alice.create(receiver.url)["webhook"]["id"])
    alice.gql(DELETE, id=str(gone))
    complete(store, alice.principal)
    complete(store, bob.principal)
    assert wait_until(lambda: len(receiver.requests) == 1 and len(kept.requests) == 1)
    assert wait_until(lambda: bool(alice.deliveries(str(webhook_id))))
    owner = alice.principal.user_id
    assert (
        _count(
            database_url, schema, "SELECT count(*) FROM webhook_attempts WHERE owner_id = %s", owner
        )
        == 1
    )
    answer = alice.gql("mutation { deleteAccount { __typename } }")
    assert answer["deleteAccount"]["__typename"] == "DeletedAccount"
    assert store.keys.is_destroyed(webhook_id)
    assert store.keys.is_destroyed(gone)  # deleted webhooks' URLs go too
    assert store.webhooks.load(webhook_id) is None
    for table in ("webhook_messages", "webhook_attempts"):
        sql = f"SELECT count(*) FROM {table} WHERE owner_id = %s"
        assert _count(database_url, schema, sql, owner) == 0
    assert wait_until(
        lambda: (
            _count(
                database_url, schema, "SELECT count(*) FROM webhooks WHERE url = %s", receiver.url
            )
            == 0
        )
    )
    time.sleep(0.5)
    assert len(receiver.requests) == 1  # the account's recordings went without a word
    assert [json.loads(r.body)["type"] for r in kept.requests] == ["transcription.completed"]
    assert len(bob.gql(LIST)["webhooks"]) == 1
