"""Files that hold personal data are readable by the service's user only: the uploaded
audio (plaintext on disk) and the development SMS outbox (live codes, phone numbers)."""

from __future__ import annotations

import io
import stat
from pathlib import Path

from domain.ports import SmsMessage
from infrastructure.blobs import FileBlobStore
from infrastructure.sms import ConsoleSms


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_audio_and_its_directories_are_private(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    blobs.prepare()
    staged = blobs.stage(io.BytesIO(b"RIFF audio"), 1024)
    assert _mode(staged.path) == 0o600
    blobs.commit(staged, "ab" * 16)
    stored = blobs.path("ab" * 16)
    assert _mode(stored) == 0o600
    assert _mode(tmp_path / "blobs") == 0o700  # nothing below it is reachable by others
    assert _mode(blobs.staging) == 0o700


def test_the_sms_outbox_is_private_even_if_an_older_one_was_not(tmp_path: Path) -> None:
    outbox = tmp_path / "sms-outbox.jsonl"
    outbox.write_text("")
    outbox.chmod(0o644)
    ConsoleSms(outbox).send(SmsMessage(to="+998901234567", text="code 123456", code="123456"))
    assert _mode(outbox) == 0o600
    assert "123456" in outbox.read_text()
