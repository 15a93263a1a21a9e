"""Recordings entries: the `audios` list over 10,000 rows, and transcript edits.

Both run against the bench's ovoz server and the baseline (``bench/baseline.py``) in the
same run, through :func:`bench.load.measure`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import psycopg

from bench.entries import _graphql, _json
from bench.load import Operation, OperationFailed
from domain.recordings import TranscriptionStatus
from infrastructure.database import ConnectionParams
from projections.audios import AUDIO_COLUMNS, AudioRow

SEED_ROWS = 10_000
PAGE = 50
#: Skips used by the measured "every request executed" runs start here; warm-ups use
#: WARM_SKIP.. so that no measured request repeats an earlier one (no cache can answer it).
WARM_SKIP = 5_000
MAX_EXECUTED = WARM_SKIP - PAGE

# A list view's fields; the baseline serves exactly these (bench/baseline.py).
AUDIOS = (
    "query($skip: Int!, $limit: Int!) { audios(skip: $skip, limit: $limit) {"
    " items { id filename status durationSeconds createdAt } total } }"
)
UPLOAD = (
    "mutation($file: Upload!, $language: String) { uploadAudio(file: $file, language: $language)"
    " { __typename ... on Audio { id version status sizeBytes durationSeconds }"
    " ... on Error { code message } } }"
)
EDIT = (
    "mutation($id: ID!, $text: String!) { updateAudio(id: $id, input: {transcriptText: $text})"
    " { __typename ... on Audio { id version transcriptText } ... on Error { code } } }"
)

_WORDS = [
    "and",
    "so",
    "my",
    "fellow",
    "americans",
    "ask",
    "not",
    "what",
    "your",
    "country",
    "can",
    "do",
    "for",
    "you",
]


def _segments(n: int) -> list[dict[str, Any]]:
    """Two short segments with word timings, as a completed transcription leaves them."""
    segments = []
    for s in range(2):
        words: list[dict[str, Any]] = [
            {
                "start": s * 4 + w * 0.5,
                "end": s * 4 + w * 0.5 + 0.4,
                "word": f" {_WORDS[(n + w) % len(_WORDS)]}",
                "probability": 0.9,
            }
            for w in range(6)
        ]
        segments.append(
            {
                "id": s,
                "start": s * 4.0,
                "end": s * 4.0 + 3.0,
                "text": "".join(w["word"] for w in words).strip(),
                "avg_logprob": -0.2,
                "no_speech_prob": 0.01,
                "words": words,
            }
        )
    return segments


def _seed_row(n: int, owner_id: uuid.UUID, started: datetime, rows: int) -> AudioRow:
    segments = _segments(n)
    at = started - timedelta(seconds=rows - n)
    return AudioRow(
        id=uuid.uuid4(),
        owner_id=owner_id,
        filename=f"recording-{n:05d}.wav",
        content_type="audio/wav",
        size_bytes=320_000 + n,
        sha256=hashlib.sha256(str(n).encode()).hexdigest(),
        blob_key=uuid.uuid4().hex,
        duration_seconds=10.0 + n % 50,
        status=TranscriptionStatus.COMPLETED,
        progress=1.0,
        language="en",
        transcript_text=" ".join(s["text"] for s in segments),
        segments=segments,
        error=None,
        version=3,
        created_at=at,
        updated_at=at,
        language_probability=0.97,
        language_uncertain=False,
        model_name="base",
    )


def seed_audios(url: str, schema: str, owner_id: uuid.UUID, rows: int = SEED_ROWS) -> float:
    """COPY ``rows`` completed recordings of ``owner_id`` straight into the audios read
    model (not through events: this entry measures the read path). Returns seconds taken."""
    params = ConnectionParams.from_url(url, schema)
    started = datetime.now(UTC)
    t0 = started.timestamp()
    with psycopg.connect(**params.psycopg_kwargs()) as conn:
        columns = AUDIO_COLUMNS.listed
        with conn.cursor() as cur, cur.copy(f"COPY audios ({columns}) FROM STDIN") as copy:
            for n in range(rows):
                copy.write_row(AUDIO_COLUMNS.values(_seed_row(n, owner_id, started, rows)))
        conn.execute("ANALYZE audios")
    return datetime.now(UTC).timestamp() - t0


def _check_page(body: Any, skip: int) -> None:
    page = body["audios"]
    if page["total"] != SEED_ROWS or len(page["items"]) != min(PAGE, SEED_ROWS - skip):
        raise OperationFailed(
            f"audios(skip: {skip}): total {page['total']}, {len(page['items'])} items"
        )


@dataclass
class Audios:
    """`audios(skip, limit: 50)` for the owner of the 10,000 rows.

    ``executed``: every request has a skip no earlier request had (counting from
    ``first_skip``), so every one is executed; otherwise every request is identical."""

    token: str
    executed: bool
    first_skip: int = 0

    def _skip(self, i: int) -> int:
        return self.first_skip + i if self.executed else 0

    def ovoz(self) -> Operation:
        async def op(client: httpx.AsyncClient, i: int) -> None:
            skip = self._skip(i)
            data = await _graphql(client, AUDIOS, {"skip": skip, "limit": PAGE}, self.token)
            _check_page(data, skip)

        return op

    def baseline(self) -> Operation:
        async def op(client: httpx.AsyncClient, i: int) -> None:
            skip = self._skip(i)
            body = _json(
                await client.post(
                    "/audios",
                    json={"skip": skip, "limit": PAGE},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
            )
            _check_page(body["data"], skip)

        return op


def upload_sync(
    base_url: str, token: str, source: BinaryIO, filename: str, timeout: float = 600.0
) -> dict[str, Any]:
    """uploadAudio as a GraphQL multipart request; ``source`` is streamed (httpx reads a
    file object in chunks), never read whole."""
    operations = {"query": UPLOAD, "variables": {"file": None, "language": None}}
    response = httpx.post(
        f"{base_url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, source, "application/octet-stream")},
        headers={"Apollo-Require-Preflight": "true", "Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    body = _json(response)
    if body.get("errors"):
        raise OperationFailed(str(body["errors"])[:300])
    result: dict[str, Any] = body["data"]["uploadAudio"]
    if result["__typename"] != "Audio":
        raise OperationFailed(f"uploadAudio: {result}")
    return result


@dataclass
class Edits:
    """updateAudio on one's own recordings. Each client holds one recording at a time (a
    pool as large as the concurrency), so edits never conflict with each other."""

    token: str
    recordings: Sequence[str]
    _free: list[str] = field(default_factory=list)

    @classmethod
    def prepare(
        cls, base_url: str, token: str, clip: Path, count: int, url: str, schema: str
    ) -> Edits:
        """Upload ``count`` recordings through GraphQL (real events), and make the
        baseline's table."""
        from bench.baseline import EDITS_TABLE

        with psycopg.connect(**ConnectionParams.from_url(url, schema).psycopg_kwargs()) as c:
            c.execute(EDITS_TABLE)
        ids = []
        for _ in range(count):
            with open(clip, "rb") as f:
                ids.append(upload_sync(base_url, token, f, clip.name)["id"])
        return cls(token, ids)

    def ovoz(self) -> Operation:
        self._free = list(self.recordings)

        async def op(client: httpx.AsyncClient, i: int) -> None:
            audio_id = self._free.pop()  # never empty: one per client in flight
            try:
                text = f"edited transcript number {i}"
                data = await _graphql(client, EDIT, {"id": audio_id, "text": text}, self.token)
                result = data["updateAudio"]
                if result["__typename"] != "Audio" or result["transcriptText"] != text:
                    raise OperationFailed(f"updateAudio: {result}")
            finally:
                self._free.append(audio_id)

        return op

    def baseline(self) -> Operation:
        async def op(client: httpx.AsyncClient, i: int) -> None:
            audio_id = self.recordings[i % len(self.recordings)]
            text = f"edited transcript number {i}"
            body = _json(
                await client.post(
                    "/edit",
                    json={"id": audio_id, "text": text},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
            )
            if body["data"]["edit"]["transcriptText"] != text:
                raise OperationFailed(f"edit: {body}")

        return op


def sign_in(base_url: str, phone: str, code: str) -> tuple[str, str]:
    """sendOtp + verifyOtp for a fixed-code test phone: (user id, access token)."""
    from bench.entries import _SEND, _VERIFY

    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        for query, variables in ((_SEND, {"p": phone}), (_VERIFY, {"p": phone, "c": code})):
            body = _json(client.post("/graphql", json={"query": query, "variables": variables}))
            if body.get("errors"):
                raise OperationFailed(str(body["errors"])[:300])
        token = body["data"]["verifyOtp"]
    if token.get("__typename") != "Token":
        raise OperationFailed(f"verifyOtp: {token}")
    return str(token["userId"]), str(token["accessToken"])
