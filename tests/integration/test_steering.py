"""What steers a transcription, through the API on real PostgreSQL: a person's vocabulary
(setVocabulary, me.vocabulary), an upload's prompt, and honest language support (flagged,
or refused when the operator says so). The last test runs the real bundled model on
synthetic speech full of rare names, with and without a vocabulary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from starlette.applications import Starlette

from domain.recordings import Recording
from domain.vocabulary import MAX_PROMPT_CHARS, MAX_TERM_CHARS, MAX_TERMS
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.integration.api_keys import create_key, error_codes, post
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ALICE,
    BOB,
    USERS_ENV,
    asgi,
    gql,
    settle,
    settle_every_projection,
    sign_in,
    token_of,
    upload,
    wait_until,
)
from tests.integration.test_upload_limits import Leftovers

ASSETS = Path(__file__).parents[1] / "assets"

SET_M = """mutation($terms: [String!]!) { setVocabulary(terms: $terms) { __typename
  ... on User { id vocabulary }
  ... on InvalidVocabulary { code message term maxTerms maxTermChars } } }"""
ME_Q = "{ me { vocabulary } }"
UPLOAD_M = """mutation($file: Upload!, $language: String, $prompt: String) {
  uploadAudio(file: $file, language: $language, prompt: $prompt) { __typename
    ... on Audio { id prompt language languageUnsupported }
    ... on Error { code message }
    ... on InvalidPrompt { maxChars }
    ... on UnsupportedLanguage { language } } }"""
AUDIO_Q = """query($id: ID!) { audio(id: $id) { prompt language languageUnsupported } }"""
SERVER_Q = "{ serverInfo { refusesUnsupportedLanguages languages { code supported } } }"


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


def app_of(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=False)


def upload_form(
    app: Starlette, token: str, content: bytes, locale: str = "en", **variables: Any
) -> dict[str, Any]:
    operations = {"query": UPLOAD_M, "variables": {"file": None, **variables}}
    response = asgi(
        app,
        "POST",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("clip.wav", content, "audio/wav")},
        headers={
            "Authorization": f"Bearer {token}",
            "Apollo-Require-Preflight": "true",
            "Accept-Language": locale,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["uploadAudio"]
    return result


# -- vocabulary -------------------------------------------------------------------------------


def test_a_vocabulary_is_kept_cleaned_and_replaced_whole(store: Ovoz) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    assert gql(app, token, ME_Q)["me"]["vocabulary"] == []

    terms = ["  Gulnora   Abdurakhmonova ", "Chorsu", "chorsu", "", "Oʻzbekiston", "pgvector"]
    saved = gql(app, token, SET_M, terms=terms)["setVocabulary"]
    kept = ["Gulnora Abdurakhmonova", "Chorsu", "Oʻzbekiston", "pgvector"]
    assert saved["__typename"] == "User"
    assert saved["vocabulary"] == kept
    assert gql(app, token, ME_Q)["me"]["vocabulary"] == kept  # read-your-writes

    # The same list again records nothing; a new one replaces the old whole.
    head = store.identity.recorder.max_notification_id()
    gql(app, token, SET_M, terms=list(reversed(list(reversed(kept)))))
    assert store.identity.recorder.max_notification_id() == head
    assert gql(app, token, SET_M, terms=["Namangan"])["setVocabulary"]["vocabulary"] == ["Namangan"]
    assert gql(app, token, SET_M, terms=[])["setVocabulary"]["vocabulary"] == []
    assert gql(app, token, ME_Q)["me"]["vocabulary"] == []


@pytest.mark.parametrize(
    ("terms", "culprit"),
    [
        (["x" * (MAX_TERM_CHARS + 1)], "x" * (MAX_TERM_CHARS + 1)),
        (["Tashkent, Samarkand"], "Tashkent, Samarkand"),
        (["bad\x00term"], "bad\x00term"),
        ([f"term{n}" for n in range(MAX_TERMS + 1)], None),
        ([f"{n:02d}" + "y" * 55 for n in range(16)], None),  # 16 x 57 chars: too long together
    ],
)
def test_a_vocabulary_that_breaks_a_rule_is_refused_and_changes_nothing(
    store: Ovoz, terms: list[str], culprit: str | None
) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    gql(app, token, SET_M, terms=["Chorsu"])
    head = store.identity.recorder.max_notification_id()
    refused = gql(app, token, SET_M, terms=terms)["setVocabulary"]
    assert refused["__typename"] == "InvalidVocabulary"
    assert refused["code"] == "INVALID_VOCABULARY"
    assert refused["term"] == culprit
    assert (refused["maxTerms"], refused["maxTermChars"]) == (MAX_TERMS, MAX_TERM_CHARS)
    assert str(MAX_TERMS) in refused["message"]
    assert store.identity.recorder.max_notification_id() == head
    assert gql(app, token, ME_Q)["me"]["vocabulary"] == ["Chorsu"]


def test_the_vocabulary_message_speaks_the_callers_language(store: Ovoz) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    messages = {}
    for locale in ("uz", "ru", "en"):
        response = asgi(
            app,
            "POST",
            json={"query": SET_M, "variables": {"terms": ["a,b"]}},
            headers={"Authorization": f"Bearer {token}", "Accept-Language": locale},
        )
        messages[locale] = response.json()["data"]["setVocabulary"]["message"]
    assert "Lugʻat" in messages["uz"]
    assert "Словарь" in messages["ru"]
    assert "vocabulary" in messages["en"]


def test_each_person_has_their_own_vocabulary_and_keys_cannot_set_it(store: Ovoz) -> None:
    app = app_of(store)
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    gql(app, token_of(store, alice), SET_M, terms=["Chorsu"])
    assert gql(app, token_of(store, bob), ME_Q)["me"]["vocabulary"] == []
    assert store.users.vocabulary_of(alice.user_id) == ["Chorsu"]
    assert store.users.vocabulary_of(bob.user_id) == []

    key = create_key(app, token_of(store, alice), "RECORDINGS_READ", "RECORDINGS_WRITE")["key"]
    assert error_codes(post(app, key, SET_M, terms=["Bukhara"])) == ["FORBIDDEN"]
    assert store.users.vocabulary_of(alice.user_id) == ["Chorsu"]


def test_a_deleted_account_leaves_no_vocabulary_behind(store: Ovoz) -> None:
    app = app_of(store)
    alice = sign_in(store, ALICE)
    gql(app, token_of(store, alice), SET_M, terms=["Gulnora Abdurakhmonova"])
    store.accounts.delete_account(alice)
    settle_every_projection(store)
    assert store.users.vocabulary_of(alice.user_id) == []
    with store.params.connect() as conn:
        conn.execute(f"SET search_path TO {store.params.schema}")
        left = conn.execute("SELECT count(*) FROM users WHERE id = %s", (alice.user_id,))
        assert left.fetchone()[0] == 0  # type: ignore[index]


# -- prompt -----------------------------------------------------------------------------------


def test_an_uploads_prompt_is_recorded_and_shown(store: Ovoz, tone_clip: bytes) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    prompt = "  Board meeting:   Gulnora, Tursunboyev  and the Chorsu lease. "
    uploaded = upload_form(app, token, tone_clip, prompt=prompt)
    assert uploaded["__typename"] == "Audio"
    cleaned = "Board meeting: Gulnora, Tursunboyev and the Chorsu lease."
    assert uploaded["prompt"] == cleaned
    assert gql(app, token, AUDIO_Q, id=uploaded["id"])["audio"]["prompt"] == cleaned
    recording = store.recordings.load(UUID(uploaded["id"]))
    assert recording.prompt == cleaned

    blank = upload_form(app, token, tone_clip, prompt="   ")
    assert blank["prompt"] is None


@pytest.mark.parametrize("prompt", ["p" * (MAX_PROMPT_CHARS + 1), "nul\x00inside"])
def test_an_upload_with_a_bad_prompt_is_refused_and_leaves_nothing(
    store: Ovoz, tone_clip: bytes, prompt: str
) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    left = Leftovers(store)
    refused = upload_form(app, token, tone_clip, prompt=prompt)
    assert refused["__typename"] == "InvalidPrompt"
    assert refused["code"] == "INVALID_PROMPT"
    assert refused["maxChars"] == MAX_PROMPT_CHARS
    left.assert_none()


def test_uploads_from_before_prompts_existed_still_load(store: Ovoz, tone_clip: bytes) -> None:
    """An AudioUploaded stored as version 1 of the event (no prompt) is upcast on reading:
    the aggregate loads, and the view takes it in."""
    alice = sign_in(store, ALICE)
    event_class = Recording.AudioUploaded
    recording = Recording(
        id=store.recordings.new_id(),
        owner_id=alice.user_id,
        filename="old.wav",
        content_type="audio/wav",
        size_bytes=len(tone_clip),
        sha256="0" * 64,
        blob_key="old",
        duration_seconds=1.0,
        language="en",
        prompt=None,
    )
    old_event = recording.pending_events[0]
    del old_event.__dict__["prompt"]  # as the code of that time wrote it
    event_class.class_version = 1
    try:
        store.recordings.save(recording)
    finally:
        event_class.class_version = 2
    loaded = store.recordings.load(recording.id)
    assert loaded.prompt is None
    assert loaded.filename == "old.wav"
    settle(store)
    row = store.audios.get(recording.id)
    assert row is not None
    assert row.prompt is None


# -- languages --------------------------------------------------------------------------------


def test_an_upload_in_a_language_the_model_cannot_do_is_accepted_and_flagged(
    store: Ovoz, tone_clip: bytes
) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    info = gql(app, token, SERVER_Q)["serverInfo"]
    assert info["refusesUnsupportedLanguages"] is False
    supported = {lang["code"]: lang["supported"] for lang in info["languages"]}
    assert supported == {"uz": False, "ru": True, "en": True}  # the bundled base model

    uzbek = upload_form(app, token, tone_clip, language="uz")
    assert uzbek["__typename"] == "Audio"
    assert uzbek["languageUnsupported"] is True
    assert gql(app, token, AUDIO_Q, id=uzbek["id"])["audio"]["languageUnsupported"] is True
    for language in ("ru", "en", None):
        other = upload_form(app, token, tone_clip, language=language)
        assert other["languageUnsupported"] is False, language


def test_an_operator_can_refuse_unsupported_languages_with_a_message_that_says_what_to_do(
    make_ovoz: MakeOvoz, tone_clip: bytes
) -> None:
    store = make_ovoz(**USERS_ENV, REFUSE_UNSUPPORTED_LANGUAGES="1")
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    assert gql(app, token, SERVER_Q)["serverInfo"]["refusesUnsupportedLanguages"] is True
    left = Leftovers(store)
    for locale in ("en", "uz", "ru"):
        refused = upload_form(app, token, tone_clip, locale=locale, language="uz-Latn")
        assert refused["__typename"] == "UnsupportedLanguage"
        assert refused["code"] == "UNSUPPORTED_LANGUAGE"
        assert refused["language"] == "uz"
        assert "WHISPER_MODELS" in refused["message"]
    left.assert_none()
    assert upload_form(app, token, tone_clip, language="ru")["__typename"] == "Audio"


def test_a_model_configured_for_uzbek_makes_it_supported(
    make_ovoz: MakeOvoz, tone_clip: bytes
) -> None:
    store = make_ovoz(
        **USERS_ENV, REFUSE_UNSUPPORTED_LANGUAGES="1", WHISPER_MODELS='{"uz": "/models/uz"}'
    )
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    languages = gql(app, token, SERVER_Q)["serverInfo"]["languages"]
    assert {lang["code"]: lang["supported"] for lang in languages}["uz"] is True
    accepted = upload_form(app, token, tone_clip, language="uz")
    assert accepted["__typename"] == "Audio"
    assert accepted["languageUnsupported"] is False


# -- the real model ---------------------------------------------------------------------------

NAMES = ASSETS / "synthetic-names-en.ogg"  # "Mister Tursunboyev met Miss Gulnora
# Abdurakhmonova at the Chorsu bazaar.", see tests/assets/README.md
RARE = ("Tursunboyev", "Gulnora", "Abdurakhmonova")


def test_a_vocabulary_steers_the_real_model_to_rare_names(make_ovoz: MakeOvoz) -> None:
    store = make_ovoz(**USERS_ENV)
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    store.identity.set_vocabulary(
        alice.user_id, ["Tursunboyev", "Gulnora Abdurakhmonova", "Chorsu bazaar"]
    )
    settle_every_projection(store)
    data = NAMES.read_bytes()
    steered = upload(store, alice, data, "names.ogg", "en").recording.id
    plain = upload(store, bob, data, "names.ogg", "en").recording.id
    store.start_workers(1)
    assert wait_until(lambda: _done(store, steered) and _done(store, plain), timeout=180)

    steered_text = _text(store, steered)
    plain_text = _text(store, plain)
    for name in RARE:
        assert name in steered_text, steered_text
    # Without the vocabulary the same model on the same audio misses them: it is the
    # vocabulary that made the difference.
    assert not any(name in plain_text for name in RARE), plain_text


def _done(store: Ovoz, audio_id: UUID) -> bool:
    row = store.audios.get(audio_id)
    assert row is None or row.status.value not in ("FAILED", "CANCELLED"), row
    return row is not None and row.status.value == "COMPLETED"


def _text(store: Ovoz, audio_id: UUID) -> str:
    row = store.audios.get(audio_id)
    assert row is not None
    return row.transcript_text or ""
