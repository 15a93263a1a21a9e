"""Transcript files: every SRT and WebVTT made here is read back by real parsers (``srt``,
``webvtt-py``) and held to the subtitle limits; TXT and JSON keep the segments."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.scripts import Script
from infrastructure.formats import render, to_json, to_srt, to_txt, to_vtt
from infrastructure.subtitles import CueLimits

DEFAULT = CueLimits()
# A real transcript: the shared English clips (74 s) through the engine, model base.
REAL = json.loads((Path(__file__).parents[1] / "assets" / "transcript-en-74s.json").read_text())

Segments = Sequence[Mapping[str, Any]]


def parsed(body: str, fmt: str) -> list[tuple[float, float, list[str]]]:
    """(start, end, lines) of each cue, as the real parser reads them."""
    if fmt == "srt":
        return [
            (c.start.total_seconds(), c.end.total_seconds(), c.content.split("\n"))
            for c in srt.parse(body)
        ]
    captions = webvtt.from_buffer(io.StringIO(body)).captions
    return [
        (c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.lines)
        for c in captions
    ]


def transcript_of(segments: Segments) -> str:
    return " ".join(" ".join(str(s["text"]).split()) for s in segments if str(s["text"]).strip())


def check_cues(body: str, fmt: str, segments: Segments, limits: CueLimits = DEFAULT) -> int:
    """The file obeys ``limits`` and says exactly the transcript; the number of cues."""
    cues = parsed(body, fmt)
    previous = 0.0
    for start, end, lines in cues:
        assert previous <= start <= end, (previous, start, end)
        assert end - start <= limits.max_cue_seconds + 0.0015  # milliseconds round
        assert 1 <= len(lines) <= limits.max_lines, lines
        for line in lines:
            assert line.strip() == line
            assert 0 < len(line) <= limits.max_line_chars or " " not in line, line
        previous = end
    assert " ".join(" ".join(lines) for _, _, lines in cues) == transcript_of(segments)
    return len(cues)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_a_real_transcript_becomes_cues_within_the_limits(fmt: str) -> None:
    body = render(fmt, REAL["text"], REAL["segments"])
    # One cue per segment made 3 cues of up to 25.7 s and 10 lines of this file.
    assert check_cues(body, fmt, REAL["segments"]) >= 12


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_cues_take_their_times_from_the_words(fmt: str) -> None:
    first = REAL["segments"][0]
    cues = parsed(render(fmt, REAL["text"], REAL["segments"]), fmt)
    words = first["words"]
    assert cues[0][0] == pytest.approx(words[0]["start"], abs=0.001)
    spoken = {round(w["end"], 3) for w in words}
    assert round(cues[0][1], 3) in spoken  # a cue ends when its last word does
    last_of_segment = max(i for i, c in enumerate(cues) if c[1] <= first["end"] + 0.001)
    assert cues[last_of_segment][1] == pytest.approx(words[-1]["end"], abs=0.001)


def test_cues_are_cut_at_sentence_ends_rather_than_inside_a_clause() -> None:
    words = "He hoped there would be stew for dinner. Stuff it into you, his belly counseled him."
    segment = timed(words.split(), 0.0, 0.4)
    cues = parsed(to_srt("", [segment]), "srt")
    assert [" ".join(lines) for _, _, lines in cues] == [
        "He hoped there would be stew for dinner.",
        "Stuff it into you, his belly counseled him.",
    ]
    assert cues[1][2] == ["Stuff it into you,", "his belly counseled him."]


def test_a_cue_never_holds_more_than_its_seconds_even_for_slow_speech() -> None:
    segment = timed(["one", "two", "three", "four", "five", "six"], 10.0, 2.5)  # 15 s
    body = to_vtt("", [segment])
    assert check_cues(body, "vtt", [segment]) == 3
    assert parsed(body, "vtt")[0][:2] == (10.0, 15.0)


def test_an_edited_segment_spreads_its_text_over_its_span_and_never_its_old_words() -> None:
    old = timed(["ask", "not", "what", "your", "country", "can", "do", "for", "you"], 2.0, 0.5)
    edited = {
        **old,
        "text": "Ask what you can do for your country, said the president.",
        "edited": True,
    }
    cues = parsed(to_srt("", [edited]), "srt")
    text = " ".join(" ".join(lines) for _, _, lines in cues)
    assert text == edited["text"]
    assert "not" not in text.split()
    assert cues[0][0] == pytest.approx(2.0)
    assert cues[-1][1] == pytest.approx(old["end"], abs=0.001)
    check_cues(to_srt("", [edited]), "srt", [edited])


def test_a_segment_without_words_is_split_evenly_over_its_span() -> None:
    text = " ".join(["word"] * 40)  # 200 characters over 20 s: 3 cues of 10 s each at most
    segment = {"id": 0, "start": 100.0, "end": 120.0, "text": text, "words": []}
    cues = parsed(to_srt("", [segment]), "srt")
    check_cues(to_srt("", [segment]), "srt", [segment])
    assert cues[0][0] == 100.0
    # Each cue's share of the time is its share of the text.
    for start, end, lines in cues:
        share = len(" ".join(lines)) / len(text)
        assert (end - start) == pytest.approx(min(20 * share, 7.0), abs=0.6)


def test_words_that_no_longer_spell_the_text_are_not_used() -> None:
    segment = {**timed(["hello", "there"], 0.0, 1.0), "text": "Hello there, friends."}
    assert parsed(to_srt("", [segment]), "srt")[0][2] == ["Hello there, friends."]


def test_a_word_longer_than_a_line_stays_whole_in_a_cue_of_its_own() -> None:
    url = "https://example.com/" + "a" * 60
    segment = timed(["see", url, "now"], 0.0, 1.0)
    cues = parsed(to_srt("", [segment]), "srt")
    assert [lines for _, _, lines in cues] == [["see"], [url], ["now"]]


def test_times_never_run_backwards_across_overlapping_segments() -> None:
    segments = [
        {**timed(["first", "words", "here"], 0.0, 1.0), "id": 0},
        {**timed(["second", "words"], 1.5, 1.0), "id": 1},  # starts before the first ends
    ]
    check_cues(to_srt("", segments), "srt", segments)


def test_the_limits_are_configurable() -> None:
    limits = CueLimits(max_line_chars=20, max_lines=1, max_cue_seconds=3.0)
    body = render("srt", REAL["text"], REAL["segments"], limits=limits)
    assert check_cues(body, "srt", REAL["segments"], limits) > check_cues(
        render("srt", REAL["text"], REAL["segments"]), "srt", REAL["segments"]
    )


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CueLimits(max_lines=0)
    with pytest.raises(ValueError, match="positive"):
        CueLimits(max_cue_seconds=0.0)


word_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyzʻ'.,?!-", min_size=1, max_size=30)


@st.composite
def segment_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = []
    clock = draw(st.floats(0, 100))
    for index in range(draw(st.integers(0, 4))):
        words: list[dict[str, Any]] = []
        ends: list[float] = []
        for word in draw(st.lists(word_text, max_size=40)):
            clock += draw(st.floats(0, 3))
            ends.append(clock + draw(st.floats(0, 12)))
            words.append({"start": clock, "end": ends[-1], "word": " " + word})
        text = "".join(str(w["word"]) for w in words)
        start = words[0]["start"] if words else clock
        end = max(ends, default=clock + 1)
        edited = draw(st.booleans())
        if edited:
            text = " ".join(draw(st.lists(word_text, max_size=30)))
        segments.append(
            {
                "id": index,
                "start": start,
                "end": end,
                "text": text,
                "words": words,
                "edited": edited,
            }
        )
    return segments


@settings(max_examples=150, deadline=None)
@given(
    segment_lists(),
    st.builds(
        CueLimits,
        max_line_chars=st.integers(8, 60),
        max_lines=st.integers(1, 3),
        max_cue_seconds=st.floats(0.5, 10),
    ),
)
def test_any_transcript_makes_files_the_parsers_accept_within_any_limits(
    segments: list[dict[str, Any]], limits: CueLimits
) -> None:
    check_cues(render("srt", "", segments, limits=limits), "srt", segments, limits)
    check_cues(render("vtt", "", segments, limits=limits), "vtt", segments, limits)


def test_cyrillic_subtitles_keep_the_limits_and_the_timings() -> None:
    segment = timed(
        [
            "Oʻzbekiston",
            "Respublikasi",
            "poytaxti",
            "Toshkent",
            "shahrida",
            "yangi",
            "metro",
            "bekati",
            "ochildi.",
        ],
        0.0,
        0.5,
    )
    body = render("srt", "", [segment], script=Script.CYRL)
    cues = parsed(body, "srt")
    assert " ".join(" ".join(lines) for _, _, lines in cues) == (
        "Ўзбекистон Республикаси пойтахти Тошкент шаҳрида янги метро бекати очилди."
    )
    assert cues[0][0] == 0.0
    for _, _, lines in cues:
        assert all(len(line) <= DEFAULT.max_line_chars for line in lines)


def test_txt_and_json_keep_the_segments() -> None:
    segments = [
        {"id": 0, "start": 0.0, "end": 2.5, "text": " And so my fellow Americans,"},
        {"id": 1, "start": 61.0, "end": 3725.5, "text": "Corrected text", "edited": True},
        {"id": 2, "start": 3726.0, "end": 3727.0, "text": "   "},
    ]
    assert to_txt("", segments) == "And so my fellow Americans,\nCorrected text\n"
    assert to_txt("only text", []) == "only text\n"
    assert to_txt("", []) == ""
    data = json.loads(to_json("the text", segments, language="en"))
    assert data == {"text": "the text", "segments": segments, "speakers": [], "language": "en"}


def test_json_in_cyrillic_says_so_and_converts_words_too() -> None:
    segment = timed(["Yaxshi", "ertalab!"], 0.0, 0.5)
    data = json.loads(render("json", "Yaxshi ertalab!", [segment], script=Script.CYRL))
    assert data["script"] == "cyrl"
    assert data["text"] == "Яхши эрталаб!"
    assert [w["word"] for w in data["segments"][0]["words"]] == [" Яхши", " эрталаб!"]
    assert [w["start"] for w in data["segments"][0]["words"]] == [0.0, 0.5]


# -- speakers -----------------------------------------------------------------------------

NAMES = {"S1": "Gulnora", "S2": "Aziz"}


def conversation() -> list[dict[str, Any]]:
    """Two speakers taking turns; the third segment runs long enough for several cues."""
    turns = [
        ("S1", "Salom, Aziz. Bugun qanday ishlar?"),
        ("S2", "Yaxshi, rahmat."),
        ("S2", "Men yangi loyiha haqida gapirmoqchi edim, chunki ertaga uchrashuv bor va "
               "hamma tayyor boʻlishi kerak."),
        ("S1", "Albatta."),
    ]  # fmt: skip
    segments = []
    clock = 0.0
    for index, (speaker, text) in enumerate(turns):
        segment = {**timed(text.split(), clock, 0.4), "id": index, "speaker": speaker}
        segments.append(segment)
        clock = segment["end"] + 0.5
    return segments


def without_name(lines: list[str], names: set[str]) -> tuple[str | None, str]:
    """The name an SRT cue starts with (``Name:``, on a line of its own or not), and
    what the cue says after it."""
    text = " ".join(lines)
    name, _, said = text.partition(": ")
    return (name, said) if name in names else (None, text)


def speaker_at(segments: Segments, time: float) -> str:
    return next(str(s["speaker"]) for s in segments if s["start"] <= time + 0.001 <= s["end"])


def test_each_srt_cue_names_its_speaker_and_keeps_the_limits() -> None:
    segments = conversation()
    cues = parsed(render("srt", "", segments, speakers=NAMES), "srt")
    words = []
    for start, end, lines in cues:
        name, said = without_name(lines, set(NAMES.values()))
        assert name == NAMES[speaker_at(segments, start)], (start, lines)
        assert 1 <= len(lines) <= DEFAULT.max_lines
        assert all(len(line) <= DEFAULT.max_line_chars for line in lines), lines
        assert end - start <= DEFAULT.max_cue_seconds + 0.0015
        words.append(said)
    assert " ".join(words) == transcript_of(segments)
    assert len(cues) > len(segments)  # the long turn was cut, each piece named


def test_a_long_name_is_cut_short_on_screen_so_speech_still_fits() -> None:
    limits = CueLimits(max_line_chars=32, max_lines=2, max_cue_seconds=5.0)
    long_name = "Abdulazizxon Karimov-Toshpoʻlatov ibn Sharofiddin"
    segments = conversation()
    cues = parsed(render("srt", "", segments, limits=limits, speakers={"S1": long_name}), "srt")
    first = " ".join(cues[0][2])
    assert first.startswith("Abdulazizxon Karimov-Toshpoʻlatov"[:20])
    assert "…:" in first
    assert "Salom," in first
    for _, _, lines in cues:
        assert len(lines) <= 2
        assert all(len(line) <= 32 for line in lines), lines


def test_each_vtt_cue_is_a_voice_span_the_parser_reads() -> None:
    segments = conversation()
    body = render("vtt", "", segments, speakers=NAMES)
    captions = webvtt.from_buffer(io.StringIO(body)).captions
    assert len(captions) > len(segments)
    voices = [c.voice for c in captions]
    assert set(voices) == {"Gulnora", "Aziz"}
    assert voices == [
        NAMES[speaker_at(segments, c.start_time.in_milliseconds() / 1000)] for c in captions
    ]
    for caption in captions:
        assert caption.raw_text.startswith(f"<v {caption.voice}>")
        assert caption.raw_text.endswith("</v>")
    # Without the tags, the cues say the transcript, and each its own speaker's part.
    assert " ".join(" ".join(c.text.split()) for c in captions) == transcript_of(segments)


def test_vtt_escapes_names_and_text_that_look_like_markup() -> None:
    name = "Ali & <Vali> Co"
    segment = {**timed(["R&D", "costs", "<", "5%", "-->", "ok"], 0.0, 0.5), "speaker": "S1"}
    reply = {**timed(["Fine."], 4.0, 0.5), "speaker": "S2"}
    body = render("vtt", "", [segment, reply], speakers={"S1": name, "S2": "Gulnora"})
    assert "<v Ali &amp; &lt;Vali&gt; Co>" in body
    assert "-->" not in body.split("\n", 3)[3].split("\n\n")[0]  # only timing lines have one
    caption, _ = webvtt.from_buffer(io.StringIO(body)).captions
    assert html.unescape(str(caption.voice)) == name
    assert html.unescape(caption.text) == "R&D costs < 5% --> ok"


def test_a_monologue_is_written_without_names_but_json_keeps_them() -> None:
    alone = [{**s, "speaker": "S1"} for s in conversation()]
    for fmt in ("txt", "srt", "vtt"):
        with_name = render(fmt, "", alone, speakers={"S1": "Gulnora"})
        assert with_name == render(
            fmt, "", [{k: v for k, v in s.items() if k != "speaker"} for s in alone]
        )
        assert "Gulnora" not in with_name
    assert json.loads(render("json", "", alone, speakers={"S1": "Gulnora"}))["speakers"] == [
        {"id": "S1", "name": "Gulnora"}
    ]


def test_segments_without_a_speaker_keep_their_cues_as_before() -> None:
    segments = conversation()
    segments[1] = {k: v for k, v in segments[1].items() if k != "speaker"}
    segments[3] = {**segments[3], "speaker": None}
    srt_lines = [lines for _, _, lines in parsed(to_srt("", segments, speakers=NAMES), "srt")]
    plain = [lines for _, _, lines in parsed(to_srt("", segments[1:2]), "srt")]
    assert plain[0] in srt_lines  # the unlabelled segment: no name, the same cue
    assert srt_lines[-1] == ["Albatta."]
    vtt = webvtt.from_buffer(io.StringIO(to_vtt("", segments, speakers=NAMES))).captions
    assert [c.voice for c in vtt][-1] is None
    # And a transcript without speakers is exactly what it was before speakers existed.
    unlabelled = [{k: v for k, v in s.items() if k != "speaker"} for s in segments]
    assert to_srt("", unlabelled, speakers=NAMES) == to_srt("", unlabelled)


def test_a_label_without_a_name_shows_as_the_label() -> None:
    cues = parsed(to_srt("", conversation(), speakers={"S2": "Aziz"}), "srt")
    assert cues[0][2][0].startswith("S1: Salom")


def test_txt_names_the_speaker_where_the_speaker_changes() -> None:
    assert to_txt("", conversation(), NAMES) == (
        "Gulnora: Salom, Aziz. Bugun qanday ishlar?\n"
        "\n"
        "Aziz: Yaxshi, rahmat.\n"
        "Men yangi loyiha haqida gapirmoqchi edim, chunki ertaga uchrashuv bor va hamma "
        "tayyor boʻlishi kerak.\n"
        "\n"
        "Gulnora: Albatta.\n"
    )


def test_json_lists_the_speakers_and_every_segment_says_who_speaks() -> None:
    segments = conversation()
    segments[3] = {k: v for k, v in segments[3].items() if k != "speaker"}
    data = json.loads(render("json", "t", segments, speakers={"S1": "Gulnora"}, language="uz"))
    assert data["speakers"] == [{"id": "S1", "name": "Gulnora"}, {"id": "S2", "name": "S2"}]
    assert [s["speaker"] for s in data["segments"]] == ["S1", "S2", "S2", None]
    assert data["language"] == "uz"


def test_cyrillic_exports_write_the_names_in_cyrillic_too() -> None:
    segments = conversation()
    body = render("srt", "", segments, script=Script.CYRL, speakers=NAMES)
    assert parsed(body, "srt")[0][2][0].startswith("Гулнора: Салом")
    vtt = render("vtt", "", segments, script=Script.CYRL, speakers=NAMES)
    assert {c.voice for c in webvtt.from_buffer(io.StringIO(vtt)).captions} == {
        "Гулнора",
        "Азиз",
    }
    data = json.loads(render("json", "", segments, script=Script.CYRL, speakers=NAMES))
    assert data["speakers"][0] == {"id": "S1", "name": "Гулнора"}


speaker_names_st = st.text(alphabet="abcdefghij ʻ&<>:", min_size=1, max_size=60).filter(
    lambda name: name.strip() != ""
)


@settings(max_examples=100, deadline=None)
@given(
    segment_lists(),
    st.lists(st.sampled_from(["S1", "S2", "S3", None]), min_size=4, max_size=4),
    st.dictionaries(st.sampled_from(["S1", "S2", "S3"]), speaker_names_st),
    st.builds(
        CueLimits,
        max_line_chars=st.integers(16, 60),
        max_lines=st.integers(2, 3),
        max_cue_seconds=st.floats(0.5, 10),
    ),
)
def test_any_transcript_with_speakers_makes_files_the_parsers_accept(
    segments: list[dict[str, Any]],
    labels: list[str | None],
    names: dict[str, str],
    limits: CueLimits,
) -> None:
    labelled = [{**s, "speaker": label} for s, label in zip(segments, labels, strict=False)]
    vtt = webvtt.from_buffer(
        io.StringIO(render("vtt", "", labelled, limits=limits, speakers=names))
    )
    captions = vtt.captions
    assert " ".join(html.unescape(" ".join(c.text.split())) for c in captions) == " ".join(
        " ".join(str(s["text"]).split()) for s in labelled if str(s["text"]).strip()
    )
    for caption in captions:
        assert caption.voice is None or html.unescape(caption.voice).strip() != ""
    # SRT shows the names, so they take room: its cues may be more. Text has no colon,
    # so a cue's name is what runs to its last one.
    said = []
    for cue in srt.parse(render("srt", "", labelled, limits=limits, speakers=names)):
        lines = cue.content.split("\n")
        assert 1 <= len(lines) <= limits.max_lines, lines
        assert all(len(line) <= limits.max_line_chars or " " not in line for line in lines)
        said.append(" ".join(lines).rsplit(":", 1)[-1].strip())
    assert " ".join(said) == transcript_of(labelled)


def test_render_refuses_unknown_formats() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render("docx", "", [])


def timed(words: list[str], start: float, each: float) -> dict[str, Any]:
    """A segment of ``words``, each spoken for ``each`` seconds from ``start``."""
    timed_words = [
        {"start": start + i * each, "end": start + (i + 1) * each, "word": " " + w}
        for i, w in enumerate(words)
    ]
    return {
        "id": 0,
        "start": start,
        "end": start + len(words) * each,
        "text": " " + " ".join(words),
        "words": timed_words,
    }
