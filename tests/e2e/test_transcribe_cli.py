"""``ovoz transcribe`` as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AUDIO_DIR

pytestmark = pytest.mark.skipif(
    not (AUDIO_DIR / "jfk.flac").is_file(),
    reason=f"the shared recordings are not at {AUDIO_DIR} (set OVOZ_AUDIO_DIR)",
)


def ovoz(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"OVOZ_VAR_DIR": str(cwd / "var"), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", *args],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_transcribe_prints_srt(tmp_path: Path) -> None:
    done = ovoz(
        "transcribe",
        str(AUDIO_DIR / "jfk.flac"),
        "--model",
        "tiny.en",
        "--format",
        "srt",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    blocks = done.stdout.strip().split("\n\n")
    assert blocks[0].startswith("1\n")
    for block in blocks:
        number, timing, *text = block.split("\n")
        assert number.isdigit()
        assert re.fullmatch(r"\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}", timing)
        assert text
    assert "ask not" in done.stdout.lower()
    assert "100%" in done.stderr


def test_transcribe_writes_files_and_reports_failures(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 100)
    out = tmp_path / "out"
    done = ovoz(
        "transcribe",
        str(AUDIO_DIR / "jfk.flac"),
        str(bad),
        "--model",
        "tiny.en",
        "--format",
        "vtt",
        "--output-dir",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "UNDECODABLE" in done.stderr
    vtt = (out / "jfk.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n")
    assert "ask not" in vtt.lower()
    assert done.stdout == ""
