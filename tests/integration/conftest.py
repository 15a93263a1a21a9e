"""Fixtures that build ovoz against a real PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infrastructure.bootstrap import Ovoz, bootstrap
from infrastructure.config import Settings
from tests.conftest import FakeClock, RecordingSms

MakeOvoz = Callable[..., Ovoz]


def make_settings(database_url: str, schema: str, var_dir: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "DATABASE_SCHEMA": schema,
            "OVOZ_VAR_DIR": str(var_dir),
            "READ_YOUR_WRITES_TIMEOUT": "10",
            **env,
        }
    )


@pytest.fixture
def make_ovoz(
    database_url: str, schema: str, tmp_path: Path, clock: FakeClock, sms: RecordingSms
) -> Iterator[MakeOvoz]:
    """Build (and later close) ovoz instances sharing one schema and one var dir."""
    built: list[Ovoz] = []

    def make(*, start: bool = True, **env: str) -> Ovoz:
        ovoz = bootstrap(make_settings(database_url, schema, tmp_path, **env), sms=sms, clock=clock)
        built.append(ovoz)
        if start:
            ovoz.start_projections()
        return ovoz

    yield make
    for ovoz in reversed(built):
        ovoz.close()


@pytest.fixture
def ovoz(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz()
