"""Speech regions and their levels: what lets a quiet speaker be heard.

Whisper decodes up to 30 s at a time, and beside a voice about 20 dB louder it can skip a
quieter one — the batched pipeline more than the sequential one — and faster-whisper's
voice activity detection (Silero) can itself take a quiet turn right after a loud one for
silence. So the engine finds speech regions itself (``speech_regions``: on pauses short
enough to part two speakers' turns, listening again to the stretches between longer
regions), and raises each region that lies far below the loudest speech around it to that
level before the window is decoded (``levelled``):

* a region's level is the 90th percentile of its 32-ms frames' RMS (the loud part of its
  syllables, whatever its pauses);
* its reference is the loudest such level among the regions of at least a second (a
  click or a cough does not set it) within 30 s of it, what Whisper reads at once;
* a region of half a second or more is raised only when it lies ``RAISE_FROM_DB`` or more
  below; the gain is bounded by ``MAX_GAIN_DB`` and by the region's peak (nothing clips),
  and it fades in and out over 10 ms at the region's edges (no clicks).

Nothing else changes: silence and the loud speech keep their samples, so a recording of
one speaker at one level reaches the decoder as it was, and no timestamp moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SAMPLE_RATE = 16_000
#: Speech parted by this much silence makes two regions (turns in a conversation are
#: usually parted by more; faster-whisper's batched pipeline cuts on 160 ms).
MIN_SILENCE_MS = 300
#: Each region reaches this far into the silence around it.
PAD_MS = 100
#: A pause between regions at least this long is listened to again on its own.
RELISTEN_SECONDS = 1.0
#: A region this far below the reference is raised towards it, by at most MAX_GAIN_DB.
RAISE_FROM_DB = 6.0
MAX_GAIN_DB = 30.0
#: The loudest sample of a raised region stays below this.
PEAK_CEILING = 0.9
#: Regions shorter than this do not set the reference level.
REFERENCE_MIN_SECONDS = 1.0
#: Regions shorter than this are not raised (a breath or the onset of a louder word).
RAISE_MIN_SECONDS = 0.5
#: A region is compared with the speech this close to it: Whisper reads 30 s at once.
CONTEXT_SECONDS = 30.0
_FRAME = 512  # 32 ms, Silero's frame
_FADE = SAMPLE_RATE // 100


@dataclass(frozen=True)
class Region:
    """A stretch of speech, in samples of its window, and the gain it was given."""

    start: int
    end: int
    gain: float = 1.0

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / SAMPLE_RATE

    @property
    def raised(self) -> bool:
        return self.gain > 1.0


def speech_regions(audio: Any) -> list[tuple[int, int]]:
    """(start, end) samples of the speech Silero finds in ``audio``, in order.

    Silero carries its state from one frame to the next, and after loud speech it can take
    a quiet voice for silence, or hear only scraps of it (a clip 20 dB down right after a
    loud one: no frame above 0.25; the same clip alone: 81 of 92 frames above 0.5). So
    each stretch of at least RELISTEN_SECONDS between the regions of a second or more is
    listened to again on its own, and what is heard then replaces the scraps found there."""
    found = _silero(audio)
    strong = [(s, e) for s, e in found if e - s >= RELISTEN_SECONDS * SAMPLE_RATE]
    edges = [0, *(x for span in strong for x in span), len(audio)]
    regions = list(strong)
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        scraps = [(s, e) for s, e in found if begin <= s < end and (s, e) not in strong]
        again: list[tuple[int, int]] = []
        if end - begin >= RELISTEN_SECONDS * SAMPLE_RATE and (begin, end) != (0, len(audio)):
            again = [(begin + s, begin + e) for s, e in _silero(audio[begin:end])]
        regions += again or scraps
    return sorted(regions)


def _silero(audio: Any) -> list[tuple[int, int]]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=MIN_SILENCE_MS, speech_pad_ms=PAD_MS)
    return [(int(c["start"]), int(c["end"])) for c in get_speech_timestamps(audio, options)]


def level_db(audio: Any) -> float:
    """The level of a stretch of speech: the 90th percentile of its frames' RMS, in dB."""
    import numpy as np

    frames = len(audio) // _FRAME
    if frames == 0:
        rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64))) if len(audio) else 0.0
    else:
        squares = np.square(audio[: frames * _FRAME].reshape(frames, _FRAME), dtype=np.float64)
        rms = np.percentile(np.sqrt(squares.mean(axis=1)), 90)
    return float(20 * np.log10(max(float(rms), 1e-10)))


def levelled(audio: Any, spans: list[tuple[int, int]]) -> tuple[Any, list[Region]]:
    """``audio`` with its quiet speech regions raised (a copy when any is), and the
    regions with their gains."""
    import numpy as np

    if not spans:
        return audio, []
    levels = [level_db(audio[s:e]) for s, e in spans]
    gains = [
        _gain(audio[s:e], _reference(spans, levels, n) - levels[n])
        if e - s >= RAISE_MIN_SECONDS * SAMPLE_RATE
        else 1.0
        for n, (s, e) in enumerate(spans)
    ]
    regions = [Region(s, e, _joined_gain(audio, spans, gains, n)) for n, (s, e) in enumerate(spans)]
    if not any(r.raised for r in regions):
        return audio, regions
    out = np.array(audio, dtype=np.float32, copy=True)
    for start, end, gain in _runs(regions):
        out[start:end] *= _envelope(end - start, gain)
    return out, regions


def _joined_gain(audio: Any, spans: list[tuple[int, int]], gains: list[float], n: int) -> float:
    """A short region touching a raised one is part of its speech (Silero cut a word or an
    onset off): it is raised with it, as far as its own peak allows."""
    start, end = spans[n]
    if gains[n] > 1.0 or end - start >= RAISE_MIN_SECONDS * SAMPLE_RATE:
        return gains[n]
    touching = [
        gains[m]
        for m in (n - 1, n + 1)
        if 0 <= m < len(spans) and (spans[m][1] == start or spans[m][0] == end)
    ]
    return _gain(audio[start:end], 20 * math.log10(max([1.0, *touching])), always=True)


def _runs(regions: list[Region]) -> list[tuple[int, int, float]]:
    """The raised stretches: touching regions of one gain make one stretch, so that the
    gain does not dip between them."""
    runs: list[tuple[int, int, float]] = []
    for r in regions:
        if not r.raised:
            continue
        if runs and runs[-1][1] == r.start and runs[-1][2] == r.gain:
            runs[-1] = (runs[-1][0], r.end, r.gain)
        else:
            runs.append((r.start, r.end, r.gain))
    return runs


def _reference(spans: list[tuple[int, int]], levels: list[float], n: int) -> float:
    """The level region ``n`` is measured against: the loudest of the regions of at least
    REFERENCE_MIN_SECONDS around it (within CONTEXT_SECONDS), or its own."""
    centre = (spans[n][0] + spans[n][1]) / 2
    around = [
        level
        for (s, e), level in zip(spans, levels, strict=True)
        if e - s >= REFERENCE_MIN_SECONDS * SAMPLE_RATE
        and abs((s + e) / 2 - centre) <= CONTEXT_SECONDS * SAMPLE_RATE
    ]
    return max([levels[n], *around])


def _gain(audio: Any, below_db: float, *, always: bool = False) -> float:
    import numpy as np

    if below_db < RAISE_FROM_DB and not always:
        return 1.0
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    gain = 10 ** (min(below_db, MAX_GAIN_DB) / 20)
    if peak > 0:
        gain = min(gain, PEAK_CEILING / peak)
    return max(gain, 1.0)


def _envelope(length: int, gain: float) -> Any:
    """``gain`` over ``length`` samples, faded from and back to 1 at both ends."""
    import numpy as np

    envelope = np.full(length, gain, dtype=np.float32)
    fade = min(_FADE, length // 2)
    if fade:
        ramp = np.linspace(1.0, gain, fade, dtype=np.float32)
        envelope[:fade] = ramp
        envelope[length - fade :] = ramp[::-1]
    return envelope
