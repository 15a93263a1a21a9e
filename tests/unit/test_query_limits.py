"""Query limits, introspection and suggestions, checked on the schema itself (no I/O:
every document here is refused or answered before a resolver needs a context)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Visitor,
    get_introspection_query,
    parse,
    visit,
)

from graphql_api.limits import measure_document
from graphql_api.schema import LIMITS, build_schema

DEV = build_schema(production=False)
PROD = build_schema(production=True)

ALL_INTROSPECTION_OPTIONS = {
    "descriptions": True,
    "specified_by_url": True,
    "directive_is_repeatable": True,
    "schema_description": True,
    "input_value_deprecation": True,
}


def fragment_dag(levels: int, leaf: str = "me { id }") -> str:
    """Each fragment spreads the one below it twice: 2^levels copies of ``leaf``."""
    fragments = [f"fragment F0 on Query {{ {leaf} }}"]
    fragments += [
        f"fragment F{k} on Query {{ ...F{k - 1} ...F{k - 1} }}" for k in range(1, levels + 1)
    ]
    return f"query {{ ...F{levels} }} " + " ".join(fragments)


def run(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None = None) -> Any:
    return asyncio.run(schema.execute(query, variable_values=variables))


def codes(errors: list[GraphQLError] | None) -> list[str | None]:
    return [(e.extensions or {}).get("code") for e in errors or []]


def measure(query: str) -> Any:
    measured = measure_document(DEV._schema, parse(query), LIMITS)
    return measured.operations[0][1]


class _SelectionCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter(self, node: Any, *_: Any) -> None:
        if isinstance(node, FieldNode | InlineFragmentNode | FragmentSpreadNode):
            self.count += 1


def selections_written(query: str) -> int:
    counter = _SelectionCounter()
    visit(parse(query), counter)
    return counter.count


# -- fragments: linear work, bounded spreads ----------------------------------------------


def test_each_fragment_is_walked_once_however_often_it_is_spread() -> None:
    query = fragment_dag(30)
    measured = measure_document(DEV._schema, parse(query), LIMITS)
    assert measured.selections_visited == selections_written(query)  # 63, not 2^30
    assert measured.fragment_spreads == 61
    assert measured.operations[0][1].cost == 2 * 2**30  # the expanded query, counted exactly


def test_a_fragment_dag_is_refused_as_too_complex_before_it_runs() -> None:
    result = run(DEV, fragment_dag(30))
    assert result.data is None
    assert codes(result.errors) == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0].extensions["measure"] == "cost"


def test_the_eighteen_level_attack_of_the_probe_is_refused() -> None:
    query = fragment_dag(18)
    assert len(query.encode()) < 800
    assert codes(run(DEV, query).errors) == ["QUERY_TOO_COMPLEX"]


def test_more_fragment_spreads_than_the_bound_are_refused() -> None:
    def spreading(n: int) -> str:
        return "query { " + "...F " * n + "} fragment F on Query { __typename }"

    most = LIMITS.max_fragment_spreads
    assert run(DEV, spreading(most)).errors is None
    result = run(DEV, spreading(most + 1))
    assert codes(result.errors) == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0].extensions["measure"] == "fragmentSpreads"


def test_more_fragment_definitions_than_the_bound_are_refused() -> None:
    count = LIMITS.max_fragments + 1
    spreads = " ".join(f"...F{i}" for i in range(count))
    fragments = " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(count))
    result = run(DEV, f"query {{ {spreads} }} {fragments}")
    assert "QUERY_TOO_COMPLEX" in codes(result.errors)
    refusal = next(e for e in result.errors if e.extensions.get("code") == "QUERY_TOO_COMPLEX")
    assert refusal.extensions["measure"] == "fragments"


def test_fragment_cycles_are_reported_not_followed() -> None:
    query = "query { ...A } fragment A on Query { ...B } fragment B on Query { me { id } ...A }"
    result = run(DEV, query)
    assert result.data is None
    assert [e.message for e in result.errors] == [
        "Cannot spread fragment 'A' within itself via 'B'."
    ]


def test_aliases_spread_through_fragments_are_counted_without_expanding_them() -> None:
    query = fragment_dag(20, leaf="a: __typename")
    measured = measure_document(DEV._schema, parse(query), LIMITS)
    assert measured.operations[0][1].aliases == 2**20
    assert measured.selections_visited == selections_written(query)
    result = run(DEV, fragment_dag(4, leaf="a: __typename"))  # 16 aliases, cheap otherwise
    assert codes(result.errors) == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0].extensions["measure"] == "aliases"


# -- cost ----------------------------------------------------------------------------------


def test_a_page_size_multiplies_the_cost_of_the_list_it_pages() -> None:
    assert measure("{ audios(limit: 5) { total items { id } } }").cost == 1 + 1 + 1 + 5
    assert measure("{ audios { items { id } } }").cost == 1 + 1 + 100  # the default limit
    assert measure("{ audios(limit: 5000) { items { id } } }").cost == 2 + 100  # clamped
    variable = "query($n: Int!) { audios(limit: $n) { items { id } } }"
    assert measure(variable).cost == 2 + 100  # validation cannot see $n: the most allowed


def test_lists_without_a_page_size_count_at_their_bound() -> None:
    query = '{ audio(id: "x") { segments { text words { word } } } }'
    segments, words = LIMITS.list_sizes["Audio.segments"], LIMITS.list_sizes["Segment.words"]
    assert measure(query).cost == 1 + 1 + segments * (1 + 1 + words)
    trail = '{ auditTrail(audioId: "x") { version } }'
    assert measure(trail).cost == 1 + LIMITS.default_list_size


def test_an_allowed_but_expensive_document_is_refused_before_it_runs() -> None:
    query = "{ audios { items { segments { start end text words { start end word } } } } }"
    assert measure(query).cost > LIMITS.max_cost
    result = run(DEV, query)
    assert result.data is None
    assert codes(result.errors) == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0].extensions["max"] == LIMITS.max_cost


def test_cost_through_fragments_and_unions_matches_the_inline_document() -> None:
    inline = '{ audio(id: "x") { id segments { text } } }'
    spread = (
        '{ audio(id: "x") { ...A } } '
        "fragment A on Audio { id ...S } fragment S on Audio { segments { text } }"
    )
    assert measure(spread) == measure(inline)
    union = 'mutation { updateAudio(id: "x", input: {}) { ... on Audio { segments { id } } } }'
    assert measure(union).cost == 1 + 1 + LIMITS.list_sizes["Audio.segments"]


# -- depth and introspection ----------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, ALL_INTROSPECTION_OPTIONS], ids=["default", "all"])
def test_the_standard_introspection_query_is_answered_in_development(
    options: dict[str, bool],
) -> None:
    result = run(DEV, get_introspection_query(**options))
    assert result.errors is None
    names = {t["name"] for t in result.data["__schema"]["types"]}
    assert {"Query", "Mutation", "Audio", "__Type"} <= names


def test_hostile_deep_introspection_is_refused() -> None:
    path = ["__schema", "types"] + ["fields", "type"] * 14
    query = "{ " + " { ".join(path) + " { name }" + " }" * len(path)
    result = run(DEV, query)
    assert result.data is None
    assert "QUERY_TOO_DEEP" in codes(result.errors)
    refusal = next(e for e in result.errors if e.extensions.get("code") == "QUERY_TOO_DEEP")
    assert refusal.extensions == {
        "code": "QUERY_TOO_DEEP",
        "measure": "introspectionDepth",
        "value": 30,
        "max": LIMITS.max_introspection_depth,
    }


def test_ordinary_fields_keep_the_tighter_depth_bound() -> None:
    deep = "{ me { " + "a { " * 12 + "b" + " }" * 12 + " } }"
    result = run(DEV, deep)
    assert "QUERY_TOO_DEEP" in codes(result.errors)


@pytest.mark.parametrize("options", [{}, ALL_INTROSPECTION_OPTIONS], ids=["default", "all"])
def test_production_keeps_introspection_disabled(options: dict[str, bool]) -> None:
    result = run(PROD, get_introspection_query(**options))
    assert result.data is None
    assert any("introspection has been disabled" in e.message for e in result.errors)


# -- no suggestions in production -----------------------------------------------------------

SUGGESTIONS = {
    "enum value": ("{ audios(status: COMPLETD) { total } }", None, "COMPLETED"),
    "type in a fragment": ("{ ...F } fragment F on Audoi { id }", None, "'Audio'"),
    "type of a variable": (
        "query($s: TranscriptionStatu) { audios(status: $s) { total } }",
        None,
        "'TranscriptionStatus'",
    ),
    "argument": ("{ audios(limt: 1) { total } }", None, "'limit'"),
    "field": ("{ mee { id } }", None, "'me'"),
    "input field": (
        'mutation { updateAudio(id: "x", input: {transcriptTxt: "a"}) { __typename } }',
        None,
        "'transcriptText'",
    ),
    "directive argument": ("{ me { id @include(iff: true) } }", None, "'if'"),
    "enum value of a variable": (
        "query($s: TranscriptionStatus) { audios(status: $s) { total } }",
        {"s": "COMPLETD"},
        "COMPLETED",
    ),
    "input field of a variable": (
        'mutation($i: AudioUpdateInput!) { updateAudio(id: "x", input: $i) { __typename } }',
        {"i": {"transcriptTxt": "a"}},
        "'transcriptText'",
    ),
}


@pytest.mark.parametrize("kind", SUGGESTIONS)
def test_production_never_suggests_a_name_development_does(kind: str) -> None:
    query, variables, suggested = SUGGESTIONS[kind]
    dev = " ".join(e.message for e in run(DEV, query, variables).errors)
    assert "Did you mean" in dev
    assert suggested in dev
    prod = " ".join(e.message for e in run(PROD, query, variables).errors)
    assert prod
    assert "Did you mean" not in prod
    assert suggested not in prod


def test_the_web_clients_recording_page_fits_with_room_to_grow() -> None:
    """The recording page asks for every segment with its words' timings; a long
    recording's worst case must pass, with room for a few more fields."""
    query = """query($id: ID!) { audio(id: $id) {
      id filename contentType sizeBytes durationSeconds status progress language
      languageUncertain transcriptText error version createdAt updatedAt fileUrl
      txt: exportUrl(format: TXT) srt: exportUrl(format: SRT)
      vtt: exportUrl(format: VTT) json: exportUrl(format: JSON)
      segments { id start end text edited avgLogprob noSpeechProb
                 words { start end word probability } } } }"""
    cost = measure(query).cost
    assert cost < 0.7 * LIMITS.max_cost, cost
    result = run(DEV, query, {"id": "00000000-0000-4000-8000-000000000000"})
    assert not {"QUERY_TOO_COMPLEX", "QUERY_TOO_DEEP"} & set(codes(result.errors or [])), result
