"""The shape of an API key: recognisable by secret scanners, parsed strictly, hashed
under a server key."""

from __future__ import annotations

import re

import pytest

from domain.access import Scope
from domain.api_keys import (
    KEY_LENGTH,
    InvalidApiKeyInputError,
    checked_name,
    checked_scopes,
    key_hash,
    key_id_of,
    parse_key,
)
from graphql_api.identity.api_keys import ApiScope

# What a secret scanner's rule for ovoz keys would say.
KEY_PATTERN = re.compile(r"^ovoz_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")
GOOD = "ovoz_ab12cd34_" + "A" * 42 + "-"


def test_a_well_shaped_key_is_parsed_into_its_public_id() -> None:
    assert KEY_PATTERN.match(GOOD)
    assert len(GOOD) == KEY_LENGTH
    presented = parse_key(GOOD)
    assert presented is not None
    assert presented.public_id == "ab12cd34"
    assert presented.key == GOOD


@pytest.mark.parametrize(
    "token",
    [
        "",
        "ovoz_",
        GOOD[:-1],  # truncated
        GOOD + "A",  # too long
        GOOD.replace("ovoz_", "OVOZ_"),
        GOOD.replace("ab12cd34", "AB12CD34"),  # public ids are lowercase
        GOOD.replace("ab12cd34_", "ab12cd34-"),  # the separator
        GOOD[:-1] + "=",  # padding is not base64url here
        GOOD[:-1] + "\x00",
        GOOD[:-1] + "é",
    ],
)
def test_anything_else_is_not_a_key(token: str) -> None:
    assert parse_key(token) is None


def test_the_hash_depends_on_the_server_key_and_the_whole_key() -> None:
    other_id = GOOD.replace("ab12cd34", "ab12cd35")
    assert key_hash(b"k1", GOOD) != key_hash(b"k2", GOOD)
    assert key_hash(b"k1", GOOD) != key_hash(b"k1", other_id)
    assert GOOD not in key_hash(b"k1", GOOD)


def test_key_ids_are_derived_from_public_ids() -> None:
    assert key_id_of("ab12cd34") == key_id_of("ab12cd34")
    assert key_id_of("ab12cd34") != key_id_of("ab12cd35")


def test_scopes_are_deduplicated_and_at_least_one() -> None:
    assert checked_scopes(["RECORDINGS_WRITE", "RECORDINGS_READ", "RECORDINGS_WRITE"]) == [
        Scope.RECORDINGS_READ,
        Scope.RECORDINGS_WRITE,
    ]
    with pytest.raises(InvalidApiKeyInputError) as empty:
        checked_scopes([])
    assert empty.value.argument == "scopes"
    with pytest.raises(InvalidApiKeyInputError):
        checked_scopes(["ADMIN"])


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_name_is_one_to_a_hundred_characters(name: str) -> None:
    with pytest.raises(InvalidApiKeyInputError) as refused:
        checked_name(name)
    assert refused.value.argument == "name"


def test_a_name_is_kept_without_surrounding_blanks() -> None:
    assert checked_name("  nightly export ") == "nightly export"
    assert checked_name("x" * 100) == "x" * 100


def test_the_schema_offers_exactly_the_domains_scopes() -> None:
    assert {s.value for s in ApiScope} == {s.value for s in Scope}
