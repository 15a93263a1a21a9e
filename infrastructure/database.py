"""The one place that knows where PostgreSQL is and builds connections to it.

With ``DATABASE_URL`` set, ovoz uses that server. Without it, a real PostgreSQL is
started from the ``pgserver`` wheel with its data under ``var/postgres`` and kept across
runs; it is stopped when the last process using it exits.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

from infrastructure.config import ConfigError, Settings

log = logging.getLogger("ovoz.database")

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ConnectionParams:
    """Where the database is, in the pieces that both psycopg and eventsourcing take."""

    dbname: str
    host: str
    port: int
    user: str
    password: str
    schema: str

    @classmethod
    def from_url(cls, url: str, schema: str) -> ConnectionParams:
        parsed = urlparse(url)
        if parsed.scheme not in {"postgres", "postgresql"}:
            raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, not {parsed.scheme!r}")
        query = parse_qs(parsed.query)
        host = query.get("host", [parsed.hostname or "127.0.0.1"])[0]
        if not _SCHEMA_NAME.match(schema):
            raise ConfigError(f"DATABASE_SCHEMA {schema!r} is not a plain lower-case identifier")
        return cls(
            dbname=unquote(parsed.path.lstrip("/")) or "postgres",
            host=host,
            port=parsed.port or 5432,
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            schema=schema,
        )

    def psycopg_kwargs(self) -> dict[str, Any]:
        return {
            "dbname": self.dbname,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "options": f"-c search_path={self.schema}",
        }

    def eventsourcing_env(self, pool_size: int = 4) -> dict[str, str]:
        """Settings for an eventsourcing Application using this database. The pool opens
        up to ``2 * pool_size`` connections under load but holds one when idle: every
        process of ovoz (api, projector, workers) shares one server's max_connections."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": str(2 * pool_size - 1),
            # A stuck writer fails instead of hanging every writer behind its table lock.
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
            "POSTGRES_PRE_PING": "y",
            "CREATE_TABLE": "y",
            # Stores each new subject's data key with its first events (one transaction).
            "APPLICATION_RECORDER_TOPIC": "infrastructure.encryption:KeyedApplicationRecorder",
        }

    def in_schema(self, schema: str) -> ConnectionParams:
        return replace(self, schema=schema)

    def datastore(self, pool_size: int = 4, *, durable: bool = True) -> SchemaDatastore:
        """A connection pool for read models and other tables of ours. ``durable=False``
        commits without waiting for the WAL flush: for read models only, which a crash
        cannot corrupt (rows and tracking position roll back together, and the projection
        replays from there) but which a flush per event would slow down. Like the
        applications' pools, it grows to ``2 * pool_size`` under load and holds one idle."""
        return SchemaDatastore(
            dbname=self.dbname,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            schema=self.schema,
            pool_size=1,
            max_overflow=2 * pool_size - 1,
            pre_ping=True,
            lock_timeout=5,
            idle_in_transaction_session_timeout=30,
            durable=durable,
        )

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        """A single plain connection (LISTEN, admin statements)."""
        return psycopg.connect(**self.psycopg_kwargs(), autocommit=autocommit)


class SchemaDatastore(PostgresDatastore):
    """eventsourcing qualifies its own tables with the schema; ours (read models, keys)
    are unqualified, so every connection of this pool searches the configured schema.

    ``batch()`` makes every ``transaction()`` of the calling code share one transaction,
    committed at the end: a projection replaying the log writes thousands of events per
    commit instead of one (used by rebuilds, from one thread)."""

    _batch_cursor: psycopg.Cursor[Any] | None = None

    def __init__(self, *args: Any, durable: bool = True, **kwargs: Any) -> None:
        self.durable = durable  # read by after_connect_func, which the base __init__ calls
        super().__init__(*args, **kwargs)

    @contextmanager
    def transaction(self, *, commit: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        if self._batch_cursor is not None:
            yield self._batch_cursor
            return
        with super().transaction(commit=commit) as cursor:
            yield cursor

    @contextmanager
    def batch(self) -> Iterator[None]:
        with self.get_connection() as conn, conn.transaction():
            self._batch_cursor = conn.cursor()
            try:
                yield
            finally:
                self._batch_cursor = None

    def after_connect_func(self) -> Callable[[psycopg.Connection[Any]], None]:
        base = super().after_connect_func()
        statement = sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema))
        durable = self.durable

        def after_connect(conn: psycopg.Connection[Any]) -> None:
            base(conn)
            conn.cursor().execute(statement)
            if not durable:
                conn.cursor().execute("SET synchronous_commit = off")

        return after_connect


class EmbeddedPostgres:
    """A PostgreSQL server from the ``pgserver`` wheel, data kept under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        import pgserver  # heavy; imported only when the embedded server is used

        self.data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_users(self.data_dir)
        log.info("starting embedded PostgreSQL in %s", self.data_dir)
        # cleanup_mode "stop": stop the server when the last process using it exits,
        # keep the data.
        self._server = pgserver.get_server(  # type: ignore[attr-defined]
            self.data_dir, cleanup_mode="stop"
        )
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _forget_dead_users(data_dir: Path) -> None:
    """pgserver stops the server when the last process using it leaves, counting them in
    ``.handle_pids.json``; a process that crashed stays listed for ever, and the server
    would then never stop. Drop the dead ones before joining."""
    import psutil
    from pgserver import postgres_server

    path = data_dir / ".handle_pids.json"
    with postgres_server.PostgresServer._lock:  # pgserver's own lock on that file
        try:
            pids = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))


class Database:
    """Resolves the configured database (starting the embedded one if needed)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedPostgres | None = None
        self.params: ConnectionParams | None = None

    def open(self) -> ConnectionParams:
        url = self.settings.database_url
        if url is None:
            self.embedded = EmbeddedPostgres(self.settings.var_dir / "postgres")
            url = self.embedded.start()
        params = ConnectionParams.from_url(url, self.settings.database_schema)
        ensure_schema(params)
        self.params = params
        return params

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def ensure_schema(params: ConnectionParams) -> None:
    with params.connect() as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(params.schema))
        )
