"""Where the benchmark's data lives: a fresh schema on a reachable PostgreSQL, or an
embedded one (pgserver) in a temporary directory when none answers."""

from __future__ import annotations

import base64
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from infrastructure.database import EmbeddedPostgres

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    schema: str
    where: str  # for the report: "external" or "embedded"


def reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


@contextmanager
def bench_database(url: str, schema: str | None) -> Iterator[BenchDatabase]:
    """A schema to benchmark in; a generated one is dropped afterwards."""
    name = schema or f"bench_{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="ovoz-bench-pg-") as tmp:
        embedded: EmbeddedPostgres | None = None
        where = "external"
        if not reachable(url):
            embedded = EmbeddedPostgres(Path(tmp) / "data")
            url = embedded.start()
            where = "embedded"
        try:
            yield BenchDatabase(url=url, schema=name, where=where)
        finally:
            if schema is None:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                    )
            if embedded is not None:
                embedded.stop()


def _secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(48)).decode()


@contextmanager
def scratch_environment(database_url: str, prefix: str, **extra: str) -> Iterator[dict[str, str]]:
    """The settings of an ovoz of its own (for ``Settings.from_env``): a fresh schema
    ``prefix<random>`` on ``database_url`` (dropped afterwards), a var dir, fresh secrets."""
    schema = f"{prefix}{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="ovoz-bench-var-") as var_dir:
        env = {
            "ENV": "development",
            "DATABASE_URL": database_url,
            "DATABASE_SCHEMA": schema,
            "OVOZ_VAR_DIR": var_dir,
            "JWT_SECRET": _secret(),
            "MASTER_KEY": _secret(),
            "OTP_PEPPER": _secret(),
            "PHONE_HMAC_KEY": _secret(),
            "LOG_LEVEL": "WARNING",
            **extra,
        }
        try:
            yield env
        finally:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
