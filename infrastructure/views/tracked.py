"""What every PostgreSQL view shares: its tables, skipping an event, and taking in the rows
of a replay (``ovoz projections rebuild``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Literal

from projections.columns import Columns

Row = TypeVar("Row")


class Replayed(Protocol):
    """An in-memory view after a replay: its rows and its position in the log."""

    @property
    def rows(self) -> Mapping[Any, Any]: ...
    @property
    def position(self) -> int: ...


class TrackedView(PostgresTrackingRecorder):
    """A view whose every write is committed with its tracking record."""

    # Every table it creates: the rows' table first, the tracking table last (a rebuild
    # replaces them all).
    tables: ClassVar[tuple[str, ...]]
    columns: ClassVar[Columns[Any]]  # of the rows' table
    create: ClassVar[tuple[str, ...]]  # its CREATE statements; {name}: one of ``literals``
    literals: ClassVar[Mapping[str, str]] = {}

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name=self.tables[-1], **kwargs)
        literals = {name: Literal(value) for name, value in self.literals.items()}
        self.sql_create_statements.extend(SQL(s).format(**literals) for s in self.create)

    def skip(self, tracking: Tracking) -> None:
        self.insert_tracking(tracking)

    def _insert_row(self, curs: Cursor[DictRow], row: Any) -> None:
        """Add ``row`` to the rows' table; if its key (the first column) is already there,
        that row stays as it is (a replayed creation)."""
        names = self.columns.names
        curs.execute(
            f"INSERT INTO {self.tables[0]} ({self.columns.listed}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(names))}) ON CONFLICT ({names[0]}) DO NOTHING",
            self.columns.values(row),
        )

    def copy_from(self, memory: Replayed, application_name: str) -> None:
        """Write a replay's result into these empty tables, with its tracking position."""
        with self.datastore.transaction(commit=True) as curs:
            copy_rows(curs, self.tables[0], self.columns, memory.rows.values())
            self._copy_more(curs, memory)
            if memory.position:
                self._insert_tracking(curs, Tracking(application_name, memory.position))

    def _copy_more(self, curs: Cursor[DictRow], memory: Replayed) -> None:
        """Copy what else than rows the replay holds (a view with more overrides this)."""


def copy_rows(
    curs: Cursor[DictRow], table: str, columns: Columns[Row], rows: Iterable[Row]
) -> None:
    """Write ``rows`` into the empty ``table``, stored through ``columns`` like every write."""
    with curs.copy(f"COPY {table} ({columns.listed}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(columns.values(row))
