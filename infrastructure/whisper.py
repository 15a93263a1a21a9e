"""Speech to text with faster-whisper (CTranslate2).

* Models: a spec is turned into a directory by ``infrastructure.models.resolve_model``.
* ``WhisperEngine`` loads each model once per process, lazily and thread-safely, and shares
  it across threads. ``WHISPER_MODELS`` routes a language (the upload's hint, or the
  language the default model detects) to a model of its own.
* Quiet speech is kept: speech regions far below the speech around them (30 s) are
  raised before decoding, and a region that still gets no word is decoded again alone
  (``WhisperEngine._window``, ``infrastructure.levelling``).
* Silence is an error: audio in which voice activity detection finds no speech, or from
  which the model produces no words, fails with reason ``NO_SPEECH`` instead of completing
  with an empty transcript, so that a user sees why there is no text.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.languages import normalise_language
from domain.recordings import TranscriptFacts
from domain.vocabulary import hotwords
from infrastructure.config import Settings
from infrastructure.levelling import PAD_MS, Region, levelled, speech_regions
from infrastructure.models import resolve_model
from infrastructure.transcription_errors import (
    ModelUnavailableError,
    TranscriptionCancelled,
    TranscriptionError,
)
from infrastructure.uzbek_script import with_uzbek_apostrophes

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000

#: Below this probability the detected language is flagged as uncertain.
LANGUAGE_UNCERTAIN_BELOW = 0.5
#: How much audio (from the start) language detection looks at for speech.
_DETECT_WINDOW_SECONDS = 120
#: Long audio is transcribed in windows of about this length (cut in quiet moments): the
#: mel features of a whole hour would peak at ~3.4 GB; a 5-minute window needs ~0.3 GB.
WINDOW_SECONDS = 300
#: A steered window is kept only if its mean log-probability beats the plain one's by this
#: and its words span at least this share of the plain one's (see WhisperEngine._checked).
STEERING_MARGIN = 0.1
STEERING_COVERAGE = 0.85
#: Batch size of the batched pipeline (chunks of up to 30 s decoded together).
BATCH_SIZE = 8
#: What ``WHISPER_BATCHED=auto`` chooses, per device, from measurements on the shared audio
#: (``bench.transcription``), base int8 on the 2-core dev machine: 3 minutes of concatenated
#: clips took 47.6 s batched vs 88.7 s sequential (1.9x); on the single short clips both ran
#: at ~1.2x realtime (shared, loaded machine) with mean WER 0.107 batched vs 0.126
#: sequential. Batched costs more memory (peak RSS 946 vs 487 MiB for those 3 minutes).
#: On GPUs batching is the documented fast path.
_AUTO_BATCHED = {"cpu": True, "cuda": True}


@dataclass(frozen=True)
class ModelStatus:
    language: str
    spec: str
    path: Path | None
    exists: bool
    loads: bool
    error: str | None


@dataclass(frozen=True)
class EngineSettings:
    default_model: str = "base"
    models: Mapping[str, str] = field(default_factory=dict)
    device: str = "auto"
    compute_type: str | None = None
    threads: int | None = None
    beam_size: int = 5
    batched: str = "auto"
    models_dir: Path = Path("var/models")
    allow_download: bool = False
    check_steering: bool = True  # see WhisperEngine._checked
    level_speech: bool = True  # see WhisperEngine._window

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineSettings:
        return cls(
            default_model=settings.whisper_model,
            models=dict(settings.whisper_models),
            device=settings.whisper_device,
            compute_type=settings.whisper_compute_type,
            threads=settings.whisper_threads,
            beam_size=settings.whisper_beam_size,
            batched=settings.whisper_batched,
            models_dir=settings.whisper_models_dir,
            allow_download=settings.whisper_allow_download,
            check_steering=settings.whisper_check_steering,
            level_speech=settings.whisper_level_speech,
        )

    @property
    def routes_by_language(self) -> bool:
        """Whether some language is sent to another model than the default."""
        default = self.spec_for(None)
        return any(lang != "*" and spec != default for lang, spec in self.models.items())

    def spec_for(self, language: str | None) -> str:
        """The model spec for ``language`` (None: the default model)."""
        if language and language in self.models:
            return self.models[language]
        return self.models.get("*", self.default_model)

    @property
    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"

    @property
    def resolved_compute_type(self) -> str:
        if self.compute_type:
            return self.compute_type
        return "float16" if self.resolved_device == "cuda" else "int8"

    @property
    def resolved_threads(self) -> int:
        return self.threads or len(os.sched_getaffinity(0)) or 1

    @property
    def use_batched(self) -> bool:
        if self.batched == "on":
            return True
        if self.batched == "off":
            return False
        return _AUTO_BATCHED.get(self.resolved_device, False)


# --------------------------------------------------------------------------- engine


@dataclass
class _Loaded:
    name: str
    model: WhisperModel


class WhisperEngine:
    """Transcribes files; one instance per process, shared by its threads."""

    def __init__(self, settings: EngineSettings | Settings) -> None:
        if isinstance(settings, Settings):
            settings = EngineSettings.from_settings(settings)
        self.settings = settings
        self._models: dict[str, _Loaded] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def model(self, spec: str) -> _Loaded:
        """The loaded model for ``spec`` (loaded on first use, then shared)."""
        with self._lock:
            loaded = self._models.get(spec)
            if loaded is not None:
                return loaded
            spec_lock = self._loading.setdefault(spec, threading.Lock())
        with spec_lock:
            with self._lock:
                loaded = self._models.get(spec)
            if loaded is not None:
                return loaded
            loaded = self._load(spec)
            with self._lock:
                self._models[spec] = loaded
            return loaded

    def _load(self, spec: str) -> _Loaded:
        from faster_whisper import WhisperModel

        s = self.settings
        resolved = resolve_model(spec, s.models_dir, allow_download=s.allow_download)
        try:
            model = WhisperModel(
                str(resolved.path),
                device=s.resolved_device,
                compute_type=s.resolved_compute_type,
                cpu_threads=s.resolved_threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise ModelUnavailableError(
                f"model {spec!r} at {resolved.path} does not load: {e}"
            ) from e
        log.info(
            "loaded Whisper model %s from %s (%s, %s)",
            resolved.name,
            resolved.path,
            s.resolved_device,
            s.resolved_compute_type,
        )
        return _Loaded(resolved.name, model)

    def transcribe(
        self,
        path: Path | str,
        language_hint: str | None = None,
        on_progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        *,
        prompt: str | None = None,
        vocabulary: Sequence[str] = (),
    ) -> TranscriptFacts:
        """Transcribe one file. Raises TranscriptionError (with a reason),
        ModelUnavailableError, or TranscriptionCancelled when ``should_stop()`` said so.

        ``vocabulary`` (names and terms) goes to every 30-s window as Whisper's hotwords;
        ``prompt`` (context) is its initial prompt: the first window of each 5-minute
        stretch sequentially, every window in the batched pipeline."""
        started = time.perf_counter()
        try:
            hint = normalise_language(language_hint)
        except ValueError as e:
            raise TranscriptionError("UNSUPPORTED_LANGUAGE", str(e)) from None
        _check_stop(should_stop)
        audio = _decode(Path(path))
        duration = len(audio) / SAMPLE_RATE
        _check_stop(should_stop)
        if hint is not None:
            loaded = self.model(self.settings.spec_for(hint))
            language: str | None = hint
            probability = 1.0
        elif not self.settings.routes_by_language:
            # One model for every language: let its own first pass detect the language
            # rather than paying for a separate detection pass.
            loaded = self.model(self.settings.spec_for(None))
            language, probability = None, 0.0
        else:
            loaded = self.model(self.settings.spec_for(None))
            language, probability = _detect_language(loaded.model, audio)
            if language is not None:
                routed = self.settings.spec_for(language)
                if routed != self.settings.spec_for(None):
                    loaded = self.model(routed)
        if language is not None and language != "en" and not loaded.model.model.is_multilingual:
            raise TranscriptionError(
                "UNSUPPORTED_LANGUAGE",
                f"model {loaded.name} knows English only, the audio is {language!r}",
            )
        steering = _steering(prompt, vocabulary)
        collected: list[dict[str, Any]] = []
        for begin, end in _windows(audio):
            _check_stop(should_stop)
            window, info = self._window(
                loaded.model,
                audio,
                language,
                steering,
                span=(begin, end),
                first_id=len(collected),
                progress=(on_progress, duration),
                should_stop=should_stop,
            )
            if language is None:  # detection had no speech to look at; the model's pass did
                language, probability = info.language, info.language_probability
            if steering and self.settings.check_steering:
                window = self._checked(
                    loaded.model,
                    audio,
                    language,
                    window,
                    span=(begin, end),
                    first_id=len(collected),
                    should_stop=should_stop,
                )
            collected += window
        text = " ".join(s["text"] for s in collected if s["text"]).strip()
        if not text:
            raise TranscriptionError("NO_SPEECH", "no speech detected in the audio")
        text, collected = _as_written(language, text, collected)
        if on_progress is not None:
            on_progress(1.0)
        return TranscriptFacts(
            text=text,
            segments=collected,
            language=language or "",
            language_probability=round(float(probability), 4),
            language_uncertain=float(probability) < LANGUAGE_UNCERTAIN_BELOW,
            duration=round(duration, 3),
            model_name=loaded.name,
            processing_seconds=round(time.perf_counter() - started, 3),
        )

    def _checked(
        self,
        model: WhisperModel,
        audio: Any,
        language: str | None,
        steered: list[dict[str, Any]],
        *,
        span: tuple[int, int],
        first_id: int,
        should_stop: Callable[[], bool] | None,
    ) -> list[dict[str, Any]]:
        """The steered decoding of a window if it earned its place, else the plain one.

        Where a vocabulary's terms are spoken it lifts the model's confidence a lot (on the
        bench's rare-name sentences the mean log-probability rose by 0.16 to 0.67); on
        ordinary speech it moves it little (-0.17 to +0.12 on the shared clips) but can
        bend words towards the terms ("She had Jadaksu and Gracie…") or, sequentially,
        end a window early (a clip lost its last third). So the window is decoded again
        unsteered, and the steered result is kept only when it is surer by
        STEERING_MARGIN and covers as much speech with words. It costs a second pass for
        those who set a vocabulary or a prompt; ``WHISPER_CHECK_STEERING=off`` skips it.
        The thresholds come from those 12 files (``bench/vocabulary.py``)."""
        plain, _ = self._window(
            model,
            audio,
            language,
            None,
            span=span,
            first_id=first_id,
            progress=(None, 0.0),
            should_stop=should_stop,
        )
        surer = _confidence(steered) >= _confidence(plain) + STEERING_MARGIN
        whole = _coverage(steered) >= STEERING_COVERAGE * _coverage(plain)
        return steered if surer and whole else plain

    def _window(
        self,
        model: WhisperModel,
        audio: Any,
        language: str | None,
        steering: Mapping[str, str] | None,
        *,
        span: tuple[int, int],
        first_id: int,
        progress: tuple[Callable[[float], None] | None, float],
        should_stop: Callable[[], bool] | None,
    ) -> tuple[list[dict[str, Any]], Any]:
        """The segments of one window (ids from ``first_id``, times in the file) and the
        model's information about it.

        With ``level_speech`` (see ``infrastructure.levelling``) its quiet speech regions
        are raised before decoding, and any region of a second or more that still got no
        word is decoded again on its own (``_alone``): Whisper, reading 30 s at once,
        skips a voice ~20 dB below another, and raising it brings most of it back."""
        begin, end = span
        offset = begin / SAMPLE_RATE
        chunk = audio[begin:end]
        regions: list[Region] = []
        if self.settings.level_speech:
            chunk, regions = levelled(chunk, speech_regions(chunk))
        segments, info = self._start(model, chunk, language, steering)
        on_progress, duration = progress
        found = _collect(
            segments,
            offset=offset,
            duration=duration,
            first_id=first_id,
            on_progress=on_progress,
            should_stop=should_stop,
        )
        unheard = _unheard(regions, found, offset)
        if not unheard:
            return found, info
        for start, stop in unheard:
            _check_stop(should_stop)
            found += self._alone(
                model,
                chunk[start:stop],
                offset + start / SAMPLE_RATE,
                language or info.language,
                steering,
            )
        found.sort(key=lambda s: (s["start"], s["end"]))
        for n, segment in enumerate(found):
            segment["id"] = first_id + n
        return found, info

    def _alone(
        self,
        model: WhisperModel,
        region: Any,
        offset: float,
        language: str | None,
        steering: Mapping[str, str] | None,
    ) -> list[dict[str, Any]]:
        """The credible segments of a speech region (``offset`` seconds into the file)
        decoded by itself, timed in the file and kept inside the region."""
        options: dict[str, Any] = {
            "language": language,
            "beam_size": self.settings.beam_size,
            "vad_filter": False,  # the region is speech already
            "word_timestamps": True,
            "condition_on_previous_text": False,
            **(steering or {}),
        }
        try:
            segments, _ = model.transcribe(region, **options)
            found = _collect(
                segments,
                offset=offset,
                duration=0.0,
                first_id=0,
                on_progress=None,
                should_stop=None,
            )
        except RuntimeError as e:
            raise TranscriptionError("INFERENCE_FAILED", str(e), retryable=True) from e
        bounds = (round(offset, 3), round(offset + len(region) / SAMPLE_RATE, 3))
        return [_inside(s, bounds) for s in found if _credible(s)]

    def _start(
        self,
        model: WhisperModel,
        audio: Any,
        language: str | None,
        steering: Mapping[str, str] | None = None,
    ) -> tuple[Any, Any]:
        from faster_whisper import BatchedInferencePipeline

        options: dict[str, Any] = {
            "language": language,
            "beam_size": self.settings.beam_size,
            "vad_filter": True,
            "word_timestamps": True,
            "condition_on_previous_text": False,
            **(steering or {}),
        }
        try:
            if self.settings.use_batched:  # the pipeline keeps per-call state: one per call
                started: tuple[Any, Any] = BatchedInferencePipeline(model).transcribe(
                    audio, batch_size=BATCH_SIZE, **options
                )
            else:
                started = model.transcribe(audio, **options)
        except ValueError as e:  # numpy on audio with no speech at all
            raise TranscriptionError("NO_SPEECH", "no speech detected in the audio") from e
        except RuntimeError as e:
            raise TranscriptionError("INFERENCE_FAILED", str(e), retryable=True) from e
        return started


#: A region decoded alone is believed only where Whisper's own doubts are low: its
#: silence test (no_speech_prob > 0.6 with avg_logprob < -1) is applied to either alone,
#: and repetitive text (compression ratio > 2.4, Whisper's fallback threshold) is dropped.
ALONE_MAX_NO_SPEECH = 0.6
ALONE_MIN_LOGPROB = -1.0
ALONE_MAX_COMPRESSION = 2.4
#: Regions shorter than this are not decoded again (a breath, a click).
ALONE_MIN_SECONDS = 1.0
#: Unheard regions parted by less than this are decoded together (more context).
ALONE_JOIN_SECONDS = 1.0
ALONE_MAX_SECONDS = 30.0


def _unheard(
    regions: list[Region], segments: list[dict[str, Any]], offset: float
) -> list[tuple[int, int]]:
    """(start, end) samples of the speech regions of a window in which no word was heard,
    those close together joined, each of at least ALONE_MIN_SECONDS."""
    words = [(w["start"] - offset, w["end"] - offset) for s in segments for w in s["words"]]
    pad = PAD_MS / 1000
    spans: list[tuple[int, int]] = []
    for r in regions:
        core = (r.start / SAMPLE_RATE + pad, r.end / SAMPLE_RATE - pad)
        if any(a < core[1] and b > core[0] for a, b in words):
            continue
        last = spans[-1] if spans else None
        if (
            last is not None
            and r.start - last[1] < ALONE_JOIN_SECONDS * SAMPLE_RATE
            and r.end - last[0] <= ALONE_MAX_SECONDS * SAMPLE_RATE
        ):
            spans[-1] = (last[0], r.end)
        else:
            spans.append((r.start, r.end))
    return [(a, b) for a, b in spans if b - a >= ALONE_MIN_SECONDS * SAMPLE_RATE]


def _credible(segment: dict[str, Any]) -> bool:
    return bool(
        segment["text"]
        and segment["words"]
        and segment["no_speech_prob"] <= ALONE_MAX_NO_SPEECH
        and segment["avg_logprob"] >= ALONE_MIN_LOGPROB
        and segment["compression_ratio"] <= ALONE_MAX_COMPRESSION
    )


def _inside(segment: dict[str, Any], bounds: tuple[float, float]) -> dict[str, Any]:
    """``segment`` with its times and its words' times clamped into ``bounds`` (Whisper
    may place the last timestamp a little past the audio it was given)."""
    low, high = bounds

    def clamp(t: float) -> float:
        return min(max(t, low), high)

    segment["start"], segment["end"] = clamp(segment["start"]), clamp(segment["end"])
    for word in segment["words"]:
        word["start"], word["end"] = clamp(word["start"]), clamp(word["end"])
    return segment


def _as_written(
    language: str | None, text: str, segments: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """The transcript as its language writes it (Uzbek: one apostrophe per use)."""
    if language == "uz":
        return with_uzbek_apostrophes(text, segments)
    return text, segments


def _coverage(segments: list[dict[str, Any]]) -> float:
    """Seconds of the audio that the decoding's words span."""
    return float(sum(w["end"] - w["start"] for s in segments for w in s["words"]))


def _confidence(segments: list[dict[str, Any]]) -> float:
    """The mean log-probability of a decoding's tokens, weighted by segment duration
    (-inf when it found no speech)."""
    spoken = [
        (float(s["end"] - s["start"]), float(s["avg_logprob"])) for s in segments if s["text"]
    ]
    total = sum(length for length, _ in spoken)
    if not spoken:
        return float("-inf")
    if total <= 0:
        return sum(logprob for _, logprob in spoken) / len(spoken)
    return sum(length * logprob for length, logprob in spoken) / total


def _steering(prompt: str | None, vocabulary: Sequence[str]) -> dict[str, str]:
    """faster-whisper's options for a prompt and a vocabulary (none: the model unsteered)."""
    options = {}
    if vocabulary:
        options["hotwords"] = hotwords(list(vocabulary))
    if prompt:
        options["initial_prompt"] = prompt
    return options


def _check_stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise TranscriptionCancelled


def _decode(path: Path) -> Any:
    import av
    from faster_whisper import decode_audio

    if not path.is_file():
        raise TranscriptionError("UNDECODABLE", f"{path} does not exist")
    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.FFmpegError, OSError, ValueError, IndexError) as e:
        raise TranscriptionError("UNDECODABLE", "the audio cannot be decoded") from e
    finally:
        gc.collect()  # PyAV's resamplers are freed only by the collector
    if len(audio) == 0:
        raise TranscriptionError("UNDECODABLE", "the file holds no audio")
    return audio


def _detect_language(model: WhisperModel, audio: Any) -> tuple[str | None, float]:
    """Detect the language from the speech in the first minutes (None: no speech there,
    or an English-only model, which cannot tell)."""
    if not model.model.is_multilingual:
        return "en", 1.0
    import numpy as np
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    head = audio[: _DETECT_WINDOW_SECONDS * SAMPLE_RATE]
    speech = get_speech_timestamps(head, VadOptions())
    if not speech:
        return None, 0.0
    voiced = np.concatenate([head[c["start"] : c["end"]] for c in speech])
    language, probability, _ = model.detect_language(audio=voiced)
    return str(language), float(probability)


def _windows(audio: Any) -> list[tuple[int, int]]:
    """Cut long audio into windows of about WINDOW_SECONDS, each cut at the quietest 0.1 s
    of the 10 s before the boundary, so that feature extraction (whose peak for a whole
    file would be ~1 GB per 20 minutes) needs memory for one window only."""
    import numpy as np

    total = len(audio)
    size = WINDOW_SECONDS * SAMPLE_RATE
    frame = SAMPLE_RATE // 10
    windows = []
    begin = 0
    while total - begin > size + size // 2:
        search = audio[begin + size - 100 * frame : begin + size]
        energy = np.square(search[: len(search) // frame * frame].reshape(-1, frame)).mean(1)
        cut = begin + size - 100 * frame + int(np.argmin(energy)) * frame + frame // 2
        windows.append((begin, cut))
        begin = cut
    windows.append((begin, total))
    return windows


def _collect(
    segments: Iterable[Any],
    *,
    offset: float,
    duration: float,
    first_id: int,
    on_progress: Callable[[float], None] | None,
    should_stop: Callable[[], bool] | None,
) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []
    iterator = iter(segments)
    while True:
        _check_stop(should_stop)
        try:
            segment = next(iterator)
        except StopIteration:
            break
        except RuntimeError as e:
            raise TranscriptionError("INFERENCE_FAILED", str(e), retryable=True) from e
        collected.append(
            {
                "id": first_id + len(collected),
                "start": round(offset + float(segment.start), 3),
                "end": round(offset + float(segment.end), 3),
                "text": segment.text.strip(),
                "avg_logprob": round(float(segment.avg_logprob), 4),
                "no_speech_prob": round(float(segment.no_speech_prob), 4),
                "compression_ratio": round(float(segment.compression_ratio), 4),
                "words": [
                    {
                        "start": round(offset + float(w.start), 3),
                        "end": round(offset + float(w.end), 3),
                        "word": w.word,
                        "probability": round(float(w.probability), 4),
                    }
                    for w in segment.words or ()
                ],
            }
        )
        if on_progress is not None and duration > 0:
            on_progress(min(1.0, (offset + float(segment.end)) / duration))
    return collected


# --------------------------------------------------------------------------- ovoz models


def describe_models(settings: EngineSettings | Settings, *, load: bool = True) -> list[ModelStatus]:
    """What is configured for each language, where it is, and whether it loads."""
    if isinstance(settings, Settings):
        settings = EngineSettings.from_settings(settings)
    entries = dict(settings.models)
    entries.setdefault("*", settings.default_model)
    engine = WhisperEngine(settings)
    statuses = []
    for language in sorted(entries, key=lambda k: (k == "*", k)):
        spec = entries[language]
        path: Path | None = None
        error: str | None = None
        loads = False
        try:
            path = resolve_model(
                spec, settings.models_dir, allow_download=settings.allow_download
            ).path
            if load:
                engine.model(spec)
                loads = True
        except TranscriptionError as e:
            error = e.detail
        statuses.append(
            ModelStatus(
                language=language,
                spec=spec,
                path=path,
                exists=path is not None and path.is_dir(),
                loads=loads,
                error=error,
            )
        )
    return statuses
