"""Speaker labels with the real voice encoder (its weights from the installed resemblyzer
wheel, run with numpy) and the real bundled model: the weights read as the network needs
them, one voice stays one speaker, and a conversation of the shared clips gets its
speakers told apart (an accuracy check: it needs ../shared/audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.der import der
from bench.diarization import CONVERSATIONS, build, spoken_turns
from infrastructure import speakers
from infrastructure.config import Settings
from infrastructure.speakers import SpeakerLabelling, read_weights
from infrastructure.whisper import WhisperEngine
from tests.conftest import AUDIO_DIR

SPEECH = Path(__file__).parents[1] / "assets" / "synthetic-speech-en.ogg"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SpeakerLabelling:
    path = speakers.weights_path()
    assert path is not None, "./dev installs the voice encoder: pip install --no-deps resemblyzer"
    var = tmp_path_factory.mktemp("var")
    return SpeakerLabelling(WhisperEngine(Settings.from_env({"OVOZ_VAR_DIR": str(var)})))


def test_the_weights_read_without_pytorch_as_the_network_needs_them() -> None:
    path = speakers.weights_path()
    assert path is not None
    weights = read_weights(path)
    assert weights["lstm.weight_ih_l0"].shape == (1024, 40)
    for layer in (1, 2):
        assert weights[f"lstm.weight_ih_l{layer}"].shape == (1024, 256)
    assert weights["lstm.weight_hh_l2"].shape == (1024, 256)
    assert weights["linear.weight"].shape == (256, 256)
    assert all(np.isfinite(w).all() for w in weights.values())
    assert float(np.abs(weights["lstm.weight_hh_l0"]).mean()) > 0.01  # trained, not zeros


def test_one_voice_is_one_speaker(engine: SpeakerLabelling) -> None:
    facts = engine.transcribe(SPEECH, "en")
    assert facts.segments
    assert {s.get("speaker") for s in facts.segments} == {"S1"}
    assert [s["id"] for s in facts.segments] == list(range(len(facts.segments)))


def test_labelling_off_leaves_no_speakers(tmp_path: Path) -> None:
    plain = SpeakerLabelling(
        WhisperEngine(Settings.from_env({"OVOZ_VAR_DIR": str(tmp_path)})), enabled=False
    )
    facts = plain.transcribe(SPEECH, "en")
    assert all("speaker" not in s for s in facts.segments)


@pytest.mark.skipif(not (AUDIO_DIR / "jfk.flac").exists(), reason=f"no shared audio at {AUDIO_DIR}")
@pytest.mark.parametrize(("name", "files"), [CONVERSATIONS[0], CONVERSATIONS[3]])
def test_a_conversation_gets_its_speakers_told_apart(
    engine: SpeakerLabelling, tmp_path: Path, name: str, files: tuple[str, ...]
) -> None:
    talk = build(files, 1.0, tmp_path / "talk.wav")
    facts = engine.transcribe(talk.path, None)
    labels = [s["speaker"] for s in facts.segments if s.get("speaker")]
    assert len(set(labels)) == len(files), (name, labels)
    assert labels[0] == "S1"  # numbered in order of first appearance
    score = der(talk.turns, spoken_turns(facts.segments))
    assert score.confused <= 0.1 * score.total, (name, score)
    assert score.rate <= 0.25, (name, score)
