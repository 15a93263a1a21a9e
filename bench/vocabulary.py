"""What a vocabulary does to transcripts: term recall and WER with and without it.

``python -m bench --only vocabulary`` (or ``python -m bench.vocabulary``). The engine is
ovoz's own (``WhisperEngine.transcribe``, the bundled ``base``, batched and sequential),
the baseline is the same engine on the same audio without the vocabulary:

* **rare names**: sentences full of Uzbek names and technical terms, spoken by Debian's
  ``espeak-ng`` (where it is missing, only the committed ``tests/assets/synthetic-names-en.ogg``
  is used). Term recall is the share of the vocabulary's words, in the sentences that hold
  them, that come back spelt as the vocabulary spells them; WER is over the whole sentences.
* **ordinary clips**: the shared English and Russian recordings, whose words have nothing to
  do with the vocabulary, with that same vocabulary set: it must not make them worse.

About 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.report import Row, table
from bench.transcription import AUDIO_DIR, clips, normalise

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"

#: (sentence, the terms in it): names and terms the bundled model misspells unaided.
SENTENCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Mister Tursunboyev met Miss Gulnora Abdurakhmonova at the Chorsu bazaar.",
        ("Tursunboyev", "Gulnora", "Abdurakhmonova", "Chorsu"),
    ),
    (
        "Please send the Xolmirzayev report to Doctor Nodirbek Qahhorov before Friday.",
        ("Xolmirzayev", "Nodirbek", "Qahhorov"),
    ),
    (
        "The Kubernetes cluster runs Postgres with the pgvector extension.",
        ("Kubernetes", "Postgres", "pgvector"),
    ),
    (
        "Our office in Namangan ships Ferghana apricots to Samarkand and Bukhara.",
        ("Namangan", "Ferghana", "Samarkand", "Bukhara"),
    ),
    (
        "Dilnoza Yusupova presented the Ovoz roadmap to Sardorbek in Andijan.",
        ("Dilnoza", "Yusupova", "Ovoz", "Sardorbek", "Andijan"),
    ),
)
VOCABULARY = [
    "Tursunboyev",
    "Gulnora Abdurakhmonova",
    "Chorsu",
    "Xolmirzayev",
    "Nodirbek Qahhorov",
    "Kubernetes",
    "Postgres",
    "pgvector",
    "Namangan",
    "Ferghana",
    "Samarkand",
    "Bukhara",
    "Dilnoza Yusupova",
    "Ovoz",
    "Sardorbek",
    "Andijan",
]


def spoken(workdir: Path) -> list[tuple[Path, str, tuple[str, ...]]]:
    """The sentences as audio files, with their text and terms."""
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is missing: only the committed names clip is used", file=sys.stderr)
        sentence, terms = SENTENCES[0]
        return [(ASSETS / "synthetic-names-en.ogg", sentence, terms)]
    made = []
    for n, (sentence, terms) in enumerate(SENTENCES):
        path = workdir / f"names-{n}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), sentence], check=True
        )
        made.append((path, sentence, terms))
    return made


def term_recall(hypothesis: str, terms: Sequence[str]) -> tuple[int, int]:
    """(terms found spelt right, terms): case-insensitive, on word boundaries."""
    words = set(normalise(hypothesis).split())
    return sum(1 for t in terms if t.lower() in words), len(terms)


def _wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


def measure(batched: str) -> list[Row]:
    from infrastructure.config import Settings
    from infrastructure.whisper import WhisperEngine

    engine = WhisperEngine(Settings.from_env({"WHISPER_BATCHED": batched}))
    mode = "batched" if batched == "on" else "sequential"
    rows = []
    seconds = {True: 0.0, False: 0.0}

    def run(path: Path, language: str, steered: bool) -> str:
        started = time.perf_counter()
        text = engine.transcribe(path, language, vocabulary=VOCABULARY if steered else ()).text
        seconds[steered] += time.perf_counter() - started
        return text

    with tempfile.TemporaryDirectory() as tmp:
        found = {True: [0, 0], False: [0, 0]}
        wers: dict[bool, list[float]] = {True: [], False: []}
        for path, sentence, terms in spoken(Path(tmp)):
            for steered in (True, False):
                text = engine.transcribe(path, "en", vocabulary=VOCABULARY if steered else ()).text
                hit, total = term_recall(text, terms)
                found[steered][0] += hit
                found[steered][1] += total
                wers[steered].append(_wer(sentence, text))
        recall = {k: v[0] / v[1] for k, v in found.items()}
        rows.append(
            Row(
                f"term recall, rare names ({mode})",
                recall[True],
                recall[False],
                recall[True] / recall[False] if recall[False] else float("inf"),
                "share",
                f"{found[True][0]}/{found[True][1]} terms with the vocabulary, "
                f"{found[False][0]}/{found[False][1]} without",
            )
        )
        rows.append(_wer_row(f"WER, rare-name sentences ({mode})", wers))
    ordinary: dict[bool, list[float]] = {True: [], False: []}
    shared = clips(AUDIO_DIR) if (AUDIO_DIR / "manifest.csv").exists() else []
    for clip in shared:
        path = AUDIO_DIR / clip["file"]
        for steered in (True, False):
            text = run(path, clip["language"], steered)
            ordinary[steered].append(_wer(clip["reference_text"], text))
    if ordinary[True]:
        rows.append(_wer_row(f"WER, ordinary en+ru clips ({mode})", ordinary))
    rows.append(
        Row(
            f"transcription time, all files ({mode})",
            seconds[True],
            seconds[False],
            seconds[True] / seconds[False],
            "s",
            "with the vocabulary ÷ without: the check decodes a steered window twice",
        )
    )
    return rows


def _wer_row(name: str, wers: dict[bool, list[float]]) -> Row:
    steered, plain = statistics.mean(wers[True]), statistics.mean(wers[False])
    return Row(
        name,
        steered,
        plain,
        steered / plain if plain else float("nan"),
        "mean WER",
        f"{len(wers[True])} files; with the vocabulary ÷ without (lower is better)",
    )


def bench_vocabulary() -> list[Row]:
    if not (AUDIO_DIR / "manifest.csv").exists():
        print(f"no shared audio at {AUDIO_DIR}: ordinary clips are skipped", file=sys.stderr)
    return measure("on") + measure("off")


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    print(table(bench_vocabulary()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
