"""Who spoke when: a speaker label (``S1``, ``S2``, …) for each segment of a transcript.

**The voice encoder** is Resemblyzer's pretrained GE2E speaker encoder (a 3-layer LSTM over
40-band mel frames, a linear layer, ReLU, L2 norm: 256-number voice prints). Its weights
ship inside the ``resemblyzer`` wheel on PyPI (``pretrained.pt``, 17 MB), so nothing is
downloaded at run time. That package also needs PyTorch, some 2 GB from the registry; ovoz
needs neither: it reads the weights from the wheel's file (the legacy PyTorch format is a
few pickles followed by the raw tensor data) and runs the network with numpy. The wheel is
installed without its dependencies (``./dev`` and the Dockerfile do it); without it,
transcripts simply have no speakers and ``ovoz models`` and ``serverInfo`` say so.

**Labelling**: each segment is cut at word boundaries into stretches of about
``_PIECE_SECONDS``; each stretch gets a voice print (from 1.6-s windows, as the encoder was
trained); the prints are clustered (average linkage on cosine distance, the partition chosen by its
silhouette), so the number of speakers is found, not given; a segment takes the
speaker who holds most of its time. Labels are numbered in order of first appearance.
"""

from __future__ import annotations

import importlib.util
import logging
import pickle
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from domain.recordings import TranscriptFacts
from infrastructure.transcription_errors import TranscriptionCancelled

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
_N_FFT = 400  # 25 ms
_HOP = 160  # 10 ms
_N_MELS = 40
_PARTIAL_FRAMES = 160  # 1.6 s: the windows the encoder was trained on
_PARTIAL_STEP = 80  # a window every 0.8 s
_TARGET_DBFS = -30.0
#: Stretches of speech that get one voice print each.
_PIECE_SECONDS = 1.5
#: A silence this long between two words ends a stretch (turns change in pauses).
_PAUSE_SECONDS = 0.3
#: Above this many stretches (about an hour of speech), near-identical ones are grouped first.
_EXACT_LIMIT = 2000
_PRE_GROUP_BELOW = 0.12

Segments = list[dict[str, Any]]


def weights_path() -> Path | None:
    """Where the installed ``resemblyzer`` wheel keeps its weights (None: not installed).
    Found without importing the package, which would import PyTorch."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    return path if path.is_file() else None


def available() -> bool:
    return weights_path() is not None


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class _Tensor:
    storage: str
    dtype: Any
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


class _Unpickler(pickle.Unpickler):
    """Reads a legacy PyTorch checkpoint's object tree with tensors left as references."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _tensor_reference
        if module == "torch" and name in _DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the voice encoder weights")

    def persistent_load(self, pid: Any) -> Any:
        _, kind, key, _location, _numel = pid[:5]
        return (str(key), _DTYPES[kind])


def _tensor_reference(
    storage: tuple[str, Any], offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _Tensor:
    return _Tensor(storage[0], storage[1], offset, tuple(size), tuple(stride))


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """The model's tensors by name, as float32 arrays."""
    with path.open("rb") as f:
        for _ in range(3):  # magic number, protocol version, system information
            pickle.load(f)  # noqa: S301 - the file comes from the installed wheel
        checkpoint = _Unpickler(f).load()
        keys = pickle.load(f)  # noqa: S301
        tensors: dict[str, _Tensor] = checkpoint["model_state"]
        dtypes = {t.storage: t.dtype for t in tensors.values()}
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(dtypes.get(key, np.float32))
            storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    weights = {}
    for name, t in tensors.items():
        data = storages[t.storage]
        strides = tuple(s * data.itemsize for s in t.stride)
        view = np.lib.stride_tricks.as_strided(data[t.offset :], shape=t.size, strides=strides)
        weights[name] = np.array(view, dtype=np.float32)
    return weights


# --------------------------------------------------------------------------- encoder


def _mel_filters() -> np.ndarray:
    """Slaney-style mel filterbank (as librosa builds it by default): 40 x 201."""

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        linear = hz / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log_part, linear)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        linear = mel * (200.0 / 3)
        log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log_part, linear)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, _N_FFT // 2 + 1)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLE_RATE / 2.0)), _N_MELS + 2)
    )
    gaps = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / gaps[:-1, None]
    upper = ramps[2:] / gaps[1:, None]
    filters = np.maximum(0, np.minimum(lower, upper))
    filters *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return filters.astype(np.float32)


_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)
_FILTERS = _mel_filters()


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """Power mel spectrogram (not log), frames x 40, centred frames every 10 ms."""
    padded = np.pad(wav, _N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - _N_FFT) // _HOP
    index = np.arange(_N_FFT)[None, :] + _HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(padded[index] * _WINDOW, axis=1)) ** 2
    frames: np.ndarray = (spectrum @ _FILTERS.T).astype(np.float32)
    return frames


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class VoiceEncoder:
    """The GE2E encoder's forward pass in numpy (weights: ``read_weights``)."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.layers = [
            (
                weights[f"lstm.weight_ih_l{n}"].T.copy(),
                weights[f"lstm.weight_hh_l{n}"].T.copy(),
                weights[f"lstm.bias_ih_l{n}"] + weights[f"lstm.bias_hh_l{n}"],
            )
            for n in range(3)
        ]
        self.linear = (weights["linear.weight"].T.copy(), weights["linear.bias"])

    def embed_windows(self, mels: np.ndarray) -> np.ndarray:
        """Voice prints of a batch of 1.6-s windows: (batch, 160, 40) -> (batch, 256)."""
        x = mels
        hidden = np.zeros((len(mels), 256), dtype=np.float32)
        for w_in, w_hidden, bias in self.layers:
            inputs = x @ w_in + bias  # all time steps at once
            hidden = np.zeros((len(mels), 256), dtype=np.float32)
            cell = np.zeros_like(hidden)
            outputs = np.empty((len(mels), x.shape[1], 256), dtype=np.float32)
            for t in range(x.shape[1]):
                gates = inputs[:, t] + hidden @ w_hidden
                i, f, g, o = np.split(gates, 4, axis=1)
                cell = _sigmoid(f) * cell + _sigmoid(i) * np.tanh(g)
                hidden = _sigmoid(o) * np.tanh(cell)
                outputs[:, t] = hidden
            x = outputs
        w_out, b_out = self.linear
        raw = np.maximum(hidden @ w_out + b_out, 0.0)
        prints: np.ndarray = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)
        return prints

    def embed(self, stretches: Sequence[np.ndarray], batch: int = 256) -> np.ndarray:
        """One voice print per stretch of speech (the normalised mean of its 1.6-s
        windows' prints); every window of every stretch goes through the network in
        batches."""
        windows: list[np.ndarray] = []
        owners: list[int] = []
        for n, wav in enumerate(stretches):
            frames = mel_frames(_louder(wav))
            if len(frames) < _PARTIAL_FRAMES:
                frames = np.pad(frames, ((0, _PARTIAL_FRAMES - len(frames)), (0, 0)))
            for start in range(0, len(frames) - _PARTIAL_FRAMES + 1, _PARTIAL_STEP):
                windows.append(frames[start : start + _PARTIAL_FRAMES])
                owners.append(n)
        prints = np.concatenate(
            [
                self.embed_windows(np.stack(windows[i : i + batch]))
                for i in range(0, len(windows), batch)
            ]
        )
        sums = np.zeros((len(stretches), prints.shape[1]), dtype=np.float32)
        np.add.at(sums, np.array(owners), prints)
        normalised: np.ndarray = sums / np.maximum(
            np.linalg.norm(sums, axis=1, keepdims=True), 1e-9
        )
        return normalised


def _louder(wav: np.ndarray) -> np.ndarray:
    """Raised (never lowered) to -30 dBFS, as the encoder's training data was."""
    power = float(np.mean(np.square(wav))) if len(wav) else 0.0
    if power <= 0:
        return wav
    change = _TARGET_DBFS - 10 * np.log10(power)
    return wav * (10 ** (change / 20)) if change > 0 else wav


_ENCODER: VoiceEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def encoder() -> VoiceEncoder | None:
    """The process's encoder, loaded once (None when the weights are not installed)."""
    global _ENCODER  # noqa: PLW0603 - one model per process, as the speech model
    with _ENCODER_LOCK:
        if _ENCODER is None:
            path = weights_path()
            if path is None:
                return None
            _ENCODER = VoiceEncoder(read_weights(path))
        return _ENCODER


# --------------------------------------------------------------------------- labelling


def pieces(segments: Sequence[dict[str, Any]]) -> list[tuple[int, float, float]]:
    """(segment index, start, end): each segment cut at word boundaries into stretches of
    about _PIECE_SECONDS, and at every pause (a segment without words is one stretch)."""
    cut: list[tuple[int, float, float]] = []
    for index, segment in enumerate(segments):
        words = segment.get("words") or []
        if not words:
            cut.append((index, float(segment["start"]), float(segment["end"])))
            continue
        begin = float(words[0]["start"])
        for n, word in enumerate(words):
            end = float(word["end"])
            last = n == len(words) - 1
            pause = not last and float(words[n + 1]["start"]) - end >= _PAUSE_SECONDS
            if end - begin >= _PIECE_SECONDS or last or pause:
                cut.append((index, begin, end))
                if not last:
                    begin = float(words[n + 1]["start"])
    # A short last stretch joins the one before it in the same segment.
    merged: list[tuple[int, float, float]] = []
    for index, start, end in cut:
        joins = merged and merged[-1][0] == index and start - merged[-1][2] < _PAUSE_SECONDS
        if joins and end - start < _PIECE_SECONDS / 2:
            merged[-1] = (index, merged[-1][1], end)
        else:
            merged.append((index, start, end))
    return merged


def cluster(prints: np.ndarray) -> list[int]:
    """Speaker numbers for voice prints, the number of speakers found, not given.

    Average-linkage clustering on cosine distance: clusters nearer than ALWAYS_MERGE are
    one voice, clusters farther than NEVER_MERGE are different voices, and between the
    two the partition whose clusters are best separated (the highest mean silhouette) is
    chosen among those of at most MAX_SPEAKERS; one speaker when no partition is
    separated by at least MIN_SILHOUETTE.

    The distances between clusters are kept in a matrix and updated as two merge (the
    size-weighted mean of their rows, which is average linkage exactly), so an hour of
    speech — some 2,000 stretches — clusters in seconds."""
    if len(prints) == 0:
        return []
    groups = _first_groups(prints)
    distance = 1.0 - prints @ prints.T
    between = _group_distances(groups, distance)
    np.fill_diagonal(between, np.inf)
    candidates: list[list[list[int]]] = []
    while len(groups) > 1:
        a, b = sorted(np.unravel_index(int(np.argmin(between)), between.shape))
        nearest = float(between[a, b])
        if nearest >= NEVER_MERGE:
            break
        if nearest > ALWAYS_MERGE and len(groups) <= MAX_SPEAKERS:
            candidates.append([list(g) for g in groups])
        sizes = len(groups[a]), len(groups[b])
        merged = (sizes[0] * between[a] + sizes[1] * between[b]) / (sizes[0] + sizes[1])
        between[a], between[:, a] = merged, merged
        between[a, a] = np.inf
        between = np.delete(np.delete(between, b, axis=0), b, axis=1)
        groups[a] += groups.pop(b)
    candidates.append(groups)
    scored = [(silhouette(c, distance), c) for c in candidates if len(c) > 1]
    best = max(scored, key=lambda sc: sc[0], default=None)
    if best is None or (len(groups) == 1 and best[0] < MIN_SILHOUETTE):
        chosen = [list(range(len(prints)))]
    else:
        chosen = best[1]
    labels = [0] * len(prints)
    for number, members in enumerate(chosen):
        for n in members:
            labels[n] = number
    return labels


def _group_distances(groups: list[list[int]], distance: np.ndarray) -> np.ndarray:
    """The mean distance between the members of every two groups."""
    membership = np.zeros((len(groups), len(distance)))
    for g, members in enumerate(groups):
        membership[g, members] = 1.0 / len(members)
    result: np.ndarray = membership @ distance @ membership.T
    return result


#: Average cosine distances of clusters: below, always one voice; above, never. Between,
#: a split must reach MIN_SILHOUETTE: on 1.5-s stretches of the shared clips, one person
#: alone never scored above 0.22, and every 2- or 3-person conversation built from them
#: scored at least 0.51 (bench/diarization.py).
ALWAYS_MERGE = 0.3
NEVER_MERGE = 0.7
MIN_SILHOUETTE = 0.35
#: Partitions into more clusters than this are not candidates (nor are they speakers).
MAX_SPEAKERS = 20


def _first_groups(prints: np.ndarray) -> list[list[int]]:
    """One group per print; with many prints, near-identical neighbours grouped first so
    that the exact clustering stays small."""
    if len(prints) <= _EXACT_LIMIT:
        return [[n] for n in range(len(prints))]
    groups: list[list[int]] = []
    centres: list[np.ndarray] = []
    for n, p in enumerate(prints):
        if centres:
            distances = 1 - np.stack(centres) @ p
            best = int(np.argmin(distances))
            if distances[best] < _PRE_GROUP_BELOW:
                groups[best].append(n)
                continue
        centres.append(p)
        groups.append([n])
    return groups


def silhouette(groups: list[list[int]], distance: np.ndarray) -> float:
    """Mean silhouette of a partition (a point alone in its cluster scores 0)."""
    labels = np.empty(len(distance), dtype=int)
    sizes = np.array([len(g) for g in groups], dtype=float)
    for g, members in enumerate(groups):
        labels[members] = g
    onehot = np.zeros((len(distance), len(groups)))
    onehot[np.arange(len(distance)), labels] = 1.0
    totals = distance @ onehot  # each point's summed distance to each cluster
    own_size = sizes[labels]
    own = totals[np.arange(len(distance)), labels] / np.maximum(own_size - 1, 1)
    to_others = totals / sizes
    to_others[np.arange(len(distance)), labels] = np.inf
    other = to_others.min(axis=1)
    scores = (other - own) / np.maximum(np.maximum(own, other), 1e-9)
    scores[own_size == 1] = 0.0
    return float(scores.mean())


def label_speakers(audio: np.ndarray, segments: Segments, voice: VoiceEncoder) -> Segments:
    """The segments with ``speaker`` set (``S1``… in order of first appearance); a segment
    in which the speaker changes is split there, at a word boundary, so that every segment
    (and every subtitle cue made from it) is one person's."""
    cut = pieces(segments)
    if not cut:
        return segments
    stretches = [
        audio[int(s * SAMPLE_RATE) : max(int(e * SAMPLE_RATE), int(s * SAMPLE_RATE) + 1)]
        for _, s, e in cut
    ]
    prints = voice.embed(stretches)
    clusters = _without_fleeting(cluster(prints), prints, [e - s for _, s, e in cut])
    names: dict[int, str] = {}
    by_segment: dict[int, list[tuple[float, float, str]]] = {}
    for (index, start, end), number in zip(cut, clusters, strict=True):
        label = names.setdefault(number, f"S{len(names) + 1}")
        by_segment.setdefault(index, []).append((start, end, label))
    labelled: Segments = []
    for index, segment in enumerate(segments):
        for part in _split(segment, by_segment.get(index, [])):
            labelled.append({**part, "id": len(labelled)})
    return labelled


def _without_fleeting(clusters: list[int], prints: np.ndarray, seconds: list[float]) -> list[int]:
    """Clusters that hold less than MIN_SPEAKER_SECONDS of speech in all are not taken for
    speakers (a cough, a word across a turn): their stretches go to the nearest other."""
    held: dict[int, float] = {}
    for number, length in zip(clusters, seconds, strict=True):
        held[number] = held.get(number, 0.0) + length
    kept = [n for n in held if held[n] >= MIN_SPEAKER_SECONDS]
    if not kept or len(kept) == len(held):
        return clusters
    members = {n: [i for i, c in enumerate(clusters) if c == n] for n in kept}
    result = []
    for i, number in enumerate(clusters):
        if number in kept:
            result.append(number)
        else:
            result.append(max(kept, key=lambda n: float((prints[members[n]] @ prints[i]).mean())))
    return result


#: A voice heard for less than this in a whole recording is not counted as a speaker.
MIN_SPEAKER_SECONDS = 2.5


def _gap(span: tuple[float, float, str], moment: float) -> float:
    return min(abs(span[0] - moment), abs(span[1] - moment))


def _split(segment: dict[str, Any], spans: list[tuple[float, float, str]]) -> Segments:
    """``segment`` cut where the speaker of its stretches changes."""
    if not spans:
        return [dict(segment)]
    if len({label for _, _, label in spans}) == 1 or not segment.get("words"):
        held: dict[str, float] = {}
        for start, end, label in spans:
            held[label] = held.get(label, 0.0) + end - start
        return [{**segment, "speaker": max(held, key=lambda k: held[k])}]
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for word in segment["words"]:
        middle = (float(word["start"]) + float(word["end"])) / 2
        inside = [lb for s, e, lb in spans if s <= middle <= e]
        # A word between stretches is the nearest one's.
        label = inside[0] if inside else min(spans, key=lambda sp: _gap(sp, middle))[2]
        if runs and runs[-1][0] == label:
            runs[-1][1].append(word)
        else:
            runs.append((label, [word]))
    return [
        {
            **segment,
            "start": words[0]["start"] if n else segment["start"],
            "end": words[-1]["end"] if n < len(runs) - 1 else segment["end"],
            "text": "".join(str(w["word"]) for w in words).strip(),
            "words": words,
            "speaker": label,
        }
        for n, (label, words) in enumerate(runs)
    ]


class SpeakerLabelling:
    """An engine (``infrastructure.worker.Engine``) whose transcripts come with speaker
    labels, when the voice encoder is installed and labelling is on."""

    def __init__(self, engine: Any, *, enabled: bool = True) -> None:
        self.engine = engine
        self.enabled = enabled

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
        facts: TranscriptFacts = self.engine.transcribe(
            path,
            language_hint,
            on_progress=on_progress,
            should_stop=should_stop,
            prompt=prompt,
            vocabulary=vocabulary,
        )
        voice = encoder() if self.enabled else None
        if voice is None or not facts.segments:
            return facts
        if should_stop is not None and should_stop():
            raise TranscriptionCancelled
        from faster_whisper import decode_audio

        started = time.perf_counter()
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
        segments = label_speakers(audio, facts.segments, voice)
        log.info(
            "labelled %d segments with %d speakers in %.1f s",
            len(segments),
            len({s.get("speaker") for s in segments} - {None}),
            time.perf_counter() - started,
        )
        return replace(facts, segments=segments)
