"""The name a recording is shown under: what the person chose, nothing that spoofs."""

from __future__ import annotations

import pytest

from infrastructure.intake import display_filename


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        # Browsers percent-encode these three in multipart filenames (HTML form data).
        ("interview %22jfk%22.flac", 'interview "jfk".flac'),
        ("two%0D%0Alines.wav", "twolines.wav"),
        # Directories (either kind of separator) and control characters go.
        ("C:\\Users\\ali\\meeting.m4a", "meeting.m4a"),
        ("../../etc/passwd", "passwd"),
        ("tab\there.ogg", "tabhere.ogg"),
        # Bidi overrides and isolates would show the name reversed ("…gpj.exe" tricks).
        ("invoice\u202egnp.wav", "invoicegnp.wav"),
        ("a\u2066b\u2069c\u200f.mp3", "abc.mp3"),
        # Letters of any script stay, composed (NFC).
        ("Ёлка, O\u02bbzbekcha.wav", "Ёлка, O\u02bbzbekcha.wav"),
        ("cafe\u0301.wav", "caf\u00e9.wav"),
        ("", "recording"),
        (None, "recording"),
        ("...", "recording"),
    ],
)
def test_names_are_shown_as_chosen_and_never_spoofed(raw: str | None, shown: str) -> None:
    assert display_filename(raw) == shown


def test_a_long_name_keeps_its_extension() -> None:
    name = display_filename("x" * 1000 + ".flac")
    assert name.endswith(".flac")
    assert len(name) < 300
