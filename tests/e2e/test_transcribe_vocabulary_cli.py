"""``ovoz transcribe --vocabulary/--prompt`` as a user runs it, on the committed synthetic
clip of rare names (no shared recordings needed)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_transcribe_cli import ovoz

NAMES = Path(__file__).resolve().parents[1] / "assets" / "synthetic-names-en.ogg"


def test_the_vocabulary_spells_the_names_the_model_cannot(tmp_path: Path) -> None:
    steered = ovoz(
        "transcribe",
        str(NAMES),
        "--language",
        "en",
        "--vocabulary",
        "Tursunboyev, Gulnora Abdurakhmonova",
        "--prompt",
        "A meeting at the Chorsu bazaar.",
        cwd=tmp_path,
    )
    assert steered.returncode == 0, steered.stderr
    assert "Tursunboyev" in steered.stdout
    assert "Abdurakhmonova" in steered.stdout


def test_a_bad_vocabulary_is_refused_before_any_work(tmp_path: Path) -> None:
    refused = ovoz("transcribe", str(NAMES), "--vocabulary", "x" * 61, cwd=tmp_path)
    assert refused.returncode == 2
    assert "longer than 60 characters" in refused.stderr
    assert refused.stdout == ""


def test_models_says_which_languages_the_configured_model_handles(tmp_path: Path) -> None:
    listed = ovoz("models", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    handled = {
        line.split()[0]: line.split()[2]
        for line in listed.stdout.splitlines()
        if line[:3] in ("uz ", "ru ", "en ")
    }
    assert handled == {"uz": "no", "ru": "yes", "en": "yes"}
    assert 'WHISPER_MODELS=\'{"uz"' in listed.stdout
