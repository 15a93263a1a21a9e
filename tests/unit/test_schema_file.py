"""``schema.graphql`` is the contract clients generate their types from (the web client
among them): it must be exactly what ``ovoz schema`` prints from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql_api.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_the_committed_schema_is_the_live_one() -> None:
    live = build_schema(production=False).as_str().rstrip("\n") + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == live, (
        "schema.graphql drifted from the code: run `./dev ovoz schema > schema.graphql`"
    )


def test_ovoz_schema_prints_it() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", "schema"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},  # no settings at all: printing needs none
    ).stdout
    assert printed == SCHEMA_FILE.read_text(encoding="utf-8")
    assert "exportUrl(format: ExportFormat!, script: Script! = LATN): String!" in printed
