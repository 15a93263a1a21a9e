"""Facts that tests and bench record without a model or an upload: what a transcription
produced, what an upload found. One place, so that a new field is one edit."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from domain.recordings import AudioFacts, TranscriptFacts


def transcript_facts(
    *segment_texts: str, every: float = 1.0, length: float = 1.0, **fields: Any
) -> TranscriptFacts:
    """A finished transcript with one segment per text (``"hello"`` if none is given),
    ``every`` seconds apart and ``length`` seconds long; ``fields`` override the rest."""
    texts = segment_texts or ("hello",)
    segments = [
        {"id": i, "start": every * i, "end": every * i + length, "text": text, "words": []}
        for i, text in enumerate(texts)
    ]
    facts = TranscriptFacts(
        text=" ".join(texts),
        segments=segments,
        language="en",
        language_probability=0.9,
        language_uncertain=False,
        duration=1.0,
        model_name="tiny.en",
        processing_seconds=0.1,
    )
    return replace(facts, **fields)


def spoken_by(facts: TranscriptFacts, *speakers: str | None) -> TranscriptFacts:
    """``facts`` with segment i labelled ``speakers[i]`` (as the speaker engine labels
    them: S1, S2, … in order of first appearance; None for a segment it could not tell)."""
    if len(speakers) != len(facts.segments):
        raise ValueError(f"{len(facts.segments)} segments, {len(speakers)} speakers")
    segments = [{**s, "speaker": who} for s, who in zip(facts.segments, speakers, strict=True)]
    return replace(facts, segments=segments)


def talk_transcript(
    n: int, segments: int = 3, every: float = 2.0, length: float = 1.5, **fields: Any
) -> TranscriptFacts:
    """The transcript of talk ``n``: ``segment i of talk n``, ``every`` seconds apart."""
    texts = (f"segment {i} of talk {n}" for i in range(segments))
    defaults: dict[str, Any] = {
        "language_probability": 0.98,
        "duration": 10.0,
        "processing_seconds": 1.0,
    }
    return transcript_facts(*texts, every=every, length=length, **{**defaults, **fields})


def talk_facts(n: int, **fields: Any) -> AudioFacts:
    """What the upload of talk ``n`` found (a blob key of its own, not its id)."""
    facts = AudioFacts(
        filename=f"talk-{n}.flac",
        content_type="audio/flac",
        size_bytes=1000 + n,
        sha256=f"{n:064x}",
        blob_key=uuid.uuid4().hex,
        duration_seconds=10.0 + n,
        language="en",
    )
    return replace(facts, **fields)
