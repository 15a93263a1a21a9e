"""Scopes are enforced on every operation: each root field of the live schema (queries,
mutations, subscriptions) is called with an API key that lacks what it needs and must
answer FORBIDDEN; account operations refuse every key. The table below says what each
field needs; a root field missing from it fails the test, so a new operation cannot
ship without a decision about keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    get_named_type,
    is_composite_type,
)
from starlette.applications import Starlette
from starlette.testclient import TestClient

from domain.access import Scope
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.integration.api_keys import create_key, error_codes, post
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import ALICE, USERS_ENV, sign_in, token_of

READ, WRITE = Scope.RECORDINGS_READ, Scope.RECORDINGS_WRITE
PUBLIC = "public"  # anyone may call it, signed in or not
ACCOUNT = None  # the account itself: a person signed in by SMS, never a key

# What each root field needs. `me` shows the phone number, the account's personal data:
# a key is for recordings, so `me` is an account operation.
NEEDS: dict[str, Scope | str | None] = {
    "Query.me": ACCOUNT,
    "Query.audio": READ,
    "Query.audios": READ,
    "Query.auditTrail": READ,
    "Query.sessions": ACCOUNT,
    "Query.apiKeys": ACCOUNT,
    "Query.webhooks": ACCOUNT,
    "Query.webhookDeliveries": ACCOUNT,
    "Query.serverInfo": PUBLIC,
    "Mutation.sendOtp": PUBLIC,
    "Mutation.verifyOtp": PUBLIC,
    "Mutation.refreshSession": PUBLIC,
    "Mutation.uploadAudio": WRITE,
    "Mutation.updateAudio": WRITE,
    "Mutation.deleteAudio": WRITE,
    "Mutation.retryTranscription": WRITE,
    "Mutation.cancelTranscription": WRITE,
    "Mutation.renameSpeaker": WRITE,
    "Mutation.deleteAccount": ACCOUNT,
    "Mutation.setVocabulary": ACCOUNT,
    "Mutation.signOut": ACCOUNT,
    "Mutation.signOutEverywhere": ACCOUNT,
    "Mutation.revokeSession": ACCOUNT,
    "Mutation.createApiKey": ACCOUNT,
    "Mutation.revokeApiKey": ACCOUNT,
    "Mutation.createWebhook": ACCOUNT,
    "Mutation.deleteWebhook": ACCOUNT,
    "Subscription.audioStatus": READ,
    "Subscription.myAudioEvents": READ,
}
_DUMMY_ID = '"00000000-0000-4000-8000-000000000000"'
_SCALARS = {"Int": "1", "Float": "1.5", "Boolean": "true"}


def _literal(kind: GraphQLInputType) -> str:
    """A value of ``kind`` written in the document (required input fields only)."""
    if isinstance(kind, GraphQLNonNull):
        return _literal(kind.of_type)
    if isinstance(kind, GraphQLList):
        return f"[{_literal(kind.of_type)}]"
    if isinstance(kind, GraphQLEnumType):
        return str(next(iter(kind.values)))
    if isinstance(kind, GraphQLInputObjectType):
        required = {n: f for n, f in kind.fields.items() if isinstance(f.type, GraphQLNonNull)}
        return "{" + ", ".join(f"{n}: {_literal(f.type)}" for n, f in required.items()) + "}"
    return _SCALARS.get(get_named_type(kind).name, _DUMMY_ID)


def _document(operation: str, name: str, field: GraphQLField) -> str:
    """The smallest document that calls ``name``, with dummy required arguments."""
    arguments = ", ".join(
        f"{n}: {_literal(a.type)}"
        for n, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
    )
    call = f"{name}({arguments})" if arguments else name
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    return f"{operation} {{ {call}{selection} }}"


def _root_fields(schema: GraphQLSchema) -> list[tuple[str, str, str, GraphQLField]]:
    """(table key, operation, field name, field) of every root field."""
    roots: list[tuple[str, GraphQLObjectType | None]] = [
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
        ("subscription", schema.subscription_type),
    ]
    return [
        (f"{root.name}.{name}", operation, name, field)
        for operation, root in roots
        if root is not None
        for name, field in root.fields.items()
    ]


def _ws_errors(client: TestClient, key: str, document: str) -> list[dict[str, Any]]:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        ws.send_text(json.dumps(init))
        assert json.loads(ws.receive_text())["type"] == "connection_ack"
        ws.send_text(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}}))
        while True:
            message = json.loads(ws.receive_text())
            payload: Any = message.get("payload")
            if message["type"] == "error":
                return list(payload)
            if message["type"] == "next" and payload.get("errors"):
                return list(payload["errors"])
            if message["type"] == "complete":
                return []


@pytest.fixture
def setup(make_ovoz: MakeOvoz) -> tuple[Starlette, dict[str, str]]:
    """The app and keys of one user: read-only, write-only, both."""
    store: Ovoz = make_ovoz(**USERS_ENV)
    app = create_app(services_of(store), production=False)
    token = token_of(store, sign_in(store, ALICE))
    keys = {
        "read": create_key(app, token, READ.value)["key"],
        "write": create_key(app, token, WRITE.value)["key"],
        "all": create_key(app, token, READ.value, WRITE.value)["key"],
    }
    return app, keys


def test_every_root_field_has_a_decision_about_keys(
    setup: tuple[Starlette, dict[str, str]],
) -> None:
    app, _ = setup
    fields = {key for key, *_ in _root_fields(app.state.graphql.schema._schema)}
    assert fields - set(NEEDS) == set(), "decide what these need of an API key (NEEDS)"


# The key that holds a scope, and the one that lacks it (account fields: refuse even "all").
HOLDING = {READ: "read", WRITE: "write"}
LACKING = {READ: "write", WRITE: "read"}


def _codes(
    app: Starlette, client: TestClient, key: str, operation: str, document: str
) -> list[Any]:
    if operation == "subscription":
        return [(e.get("extensions") or {}).get("code") for e in _ws_errors(client, key, document)]
    return error_codes(post(app, key, document))


def test_every_root_field_refuses_a_key_without_its_scope(
    setup: tuple[Starlette, dict[str, str]],
) -> None:
    app, keys = setup
    schema: GraphQLSchema = app.state.graphql.schema._schema
    refused: dict[str, list[Any]] = {}
    allowed: dict[str, list[Any]] = {}
    with TestClient(app) as client:
        for key_name, operation, name, field in _root_fields(schema):
            need = NEEDS[key_name]
            document = _document(operation, name, field)
            if need == PUBLIC:
                allowed[key_name] = _codes(app, client, keys["all"], operation, document)
                continue
            lacking = LACKING.get(need, "all") if isinstance(need, Scope) else "all"
            refused[key_name] = _codes(app, client, keys[lacking], operation, document)
            if isinstance(need, Scope) and operation != "subscription":
                # Not "refuse everything": the key holding the scope gets past the check.
                holder = keys[HOLDING[need]]
                allowed[key_name] = _codes(app, client, holder, operation, document)
    assert {k: c for k, c in refused.items() if c != ["FORBIDDEN"]} == {}
    assert {k: c for k, c in allowed.items() if "FORBIDDEN" in c} == {}
    walked = {key for key, *_ in _root_fields(schema)}
    assert set(refused) == {k for k in walked if NEEDS[k] != PUBLIC}
