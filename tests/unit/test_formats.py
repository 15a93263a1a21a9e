"""SRT and WebVTT output, checked by parsing it back."""

from __future__ import annotations

import json
import re

import pytest

from infrastructure.formats import LINE_WIDTH, render, to_json, to_srt, to_txt, to_vtt

SEGMENTS = [
    {"id": 0, "start": 0.0, "end": 2.5, "text": " And so my fellow Americans,"},
    {
        "id": 1,
        "start": 2.5,
        "end": 61.042,
        "text": "ask not what your country can do for you, "
        "ask what you can do for your country, and then some more words to wrap.",
    },
    {"id": 2, "start": 61.0, "end": 3725.5, "text": "Corrected text", "edited": True},
    {"id": 3, "start": 3726.0, "end": 3727.0, "text": "   "},
]
TEXT = "And so my fellow Americans, ask not ..."

_TIME = r"(\d{2}):(\d{2}):(\d{2})[,.](\d{3})"


def seconds(match: tuple[str, ...]) -> float:
    h, m, s, ms = (int(x) for x in match)
    return h * 3600 + m * 60 + s + ms / 1000


def parse_cues(body: str, separator: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in body.strip().split("\n\n"):
        lines = block.split("\n")
        if lines[0].isdigit():
            lines = lines[1:]
        timing = re.fullmatch(
            _TIME.replace("[,.]", re.escape(separator))
            + " --> "
            + _TIME.replace("[,.]", re.escape(separator)),
            lines[0],
        )
        assert timing, lines[0]
        start = seconds(timing.groups()[:4])
        end = seconds(timing.groups()[4:])
        for line in lines[1:]:
            assert 0 < len(line) <= LINE_WIDTH
        cues.append((start, end, " ".join(lines[1:])))
    return cues


def check(cues: list[tuple[float, float, str]]) -> None:
    assert [c[2] for c in cues] == [
        "And so my fellow Americans,",
        " ".join(str(SEGMENTS[1]["text"]).split()),
        "Corrected text",
    ]
    previous = 0.0
    for start, end, _ in cues:
        assert previous <= start <= end
        previous = end
    assert cues[1][1] == pytest.approx(61.042)
    assert cues[2][1] == pytest.approx(3725.5)


def test_srt_parses_back() -> None:
    srt = to_srt(TEXT, SEGMENTS)
    numbers = [b.split("\n")[0] for b in srt.strip().split("\n\n")]
    assert numbers == ["1", "2", "3"]
    assert "01:02:05,500" in srt
    check(parse_cues(srt, ","))


def test_vtt_parses_back() -> None:
    vtt = to_vtt(TEXT, SEGMENTS)
    header, _, body = vtt.partition("\n\n")
    assert header == "WEBVTT"
    assert "00:01:01.042" in vtt
    check(parse_cues(body, "."))


def test_txt_and_json() -> None:
    assert to_txt(TEXT, SEGMENTS).splitlines()[-1] == "Corrected text"
    assert to_txt("only text", []) == "only text\n"
    assert to_txt("", []) == ""
    data = json.loads(to_json(TEXT, SEGMENTS, language="en"))
    assert data["text"] == TEXT
    assert data["language"] == "en"
    assert data["segments"][2]["edited"] is True


def test_render_refuses_unknown_formats() -> None:
    assert render("srt", TEXT, SEGMENTS) == to_srt(TEXT, SEGMENTS)
    with pytest.raises(ValueError, match="unknown format"):
        render("docx", TEXT, SEGMENTS)
