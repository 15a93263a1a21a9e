"""``ovoz projections rebuild``: replay the log into fresh read models and swap them in.

The new tables are built in a staging schema while queries keep reading the old ones and
the live projector keeps them current. Then, holding exclusive locks on the old tables
(the live projector and readers wait, briefly), the new tables catch up with the head of
the log and the two sets change schemas in one transaction. Statements that waited on
the locks look their tables up again once they get them, so they continue on the new
tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from psycopg import sql

from infrastructure.bootstrap import Ovoz
from infrastructure.database import ConnectionParams, SchemaDatastore
from infrastructure.projection_runner import LogSource
from projections.audios import AudiosInMemory, AudiosProjection, AudiosView
from projections.users import UsersInMemory, UsersProjection, UsersView

log = logging.getLogger("ovoz.rebuild")

_PAGE = 5000
Progress = Callable[[int, int, float], None]  # done, total, events per second


@dataclass(frozen=True)
class _Spec:
    view: Callable[[SchemaDatastore], Any]
    in_memory: Callable[[], Any]
    projection: Callable[[Any], Projection[Any]]
    tables: tuple[str, ...]


SPECS: dict[str, _Spec] = {
    "users": _Spec(UsersView, UsersInMemory, UsersProjection, ("users", "users_tracking")),
    "audios": _Spec(
        AudiosView,
        AudiosInMemory,
        AudiosProjection,
        ("audios", "audio_owner_positions", "audios_tracking"),
    ),
}


@dataclass(frozen=True)
class RebuildReport:
    name: str
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def rebuild(ovoz: Ovoz, name: str, progress: Progress | None = None) -> RebuildReport:
    """Rebuild one read model (``users`` or ``audios``) and swap it in atomically."""
    spec = SPECS[name]
    source = ovoz.projections[name].source
    main = ovoz.params
    staging = main.in_schema(f"{main.schema}__rebuild_{name}"[:63])
    _recreate_schema(main, staging.schema)
    datastore = staging.datastore(pool_size=2)
    started = time.perf_counter()
    try:
        view = spec.view(datastore)
        view.announce = False  # subscribers have seen these changes already
        view.create_table()
        # The bulk of the log is folded in memory and copied in at once; the few events
        # that arrive meanwhile go through the table view, under the swap's locks.
        memory = spec.in_memory()
        events = _replay(
            source, spec.projection(memory), datastore, progress=progress, started=started
        )
        memory.copy_into(view, source.name)
        view.announce = True  # the catch-up's events happen now: subscribers must hear
        projection = spec.projection(view)
        events += _swap(
            main, staging, spec, source=source, projection=projection, datastore=datastore
        )
    finally:
        datastore.close()
    _drop_schema(main, staging.schema)
    return RebuildReport(name=name, events=events, seconds=time.perf_counter() - started)


def _replay(
    source: LogSource,
    projection: Projection[Any],
    datastore: SchemaDatastore,
    *,
    progress: Progress | None,
    started: float,
    stop: int | None = None,
) -> int:
    """Feed the log after the view's position (up to ``stop``) through the projection."""
    done = 0
    total = stop or source.recorder.max_notification_id() or 0
    position = projection.view.max_tracking_id(source.name) or 0
    while True:
        page = source.recorder.select_notifications(
            position + 1, _PAGE, stop=stop, inclusive_of_start=True
        )
        if not page:
            return done
        keys = getattr(source.mapper, "keys", None)
        if keys is not None:
            keys.prefetch(n.originator_id for n in page)
        with datastore.batch():
            for notification in page:
                event = source.mapper.to_domain_event(notification)
                projection.process_event(event, Tracking(source.name, notification.id))
        position = page[-1].id
        done += len(page)
        if progress:
            elapsed = time.perf_counter() - started
            progress(position, max(total, position), done / elapsed if elapsed else 0.0)


def _swap(
    main: ConnectionParams,
    staging: ConnectionParams,
    spec: _Spec,
    *,
    source: LogSource,
    projection: Projection[Any],
    datastore: SchemaDatastore,
) -> int:
    """Lock the live tables, let the new ones catch up, exchange them. Returns how many
    events the catch-up processed."""
    retired = f"{main.schema}__retired"[:63]
    _recreate_schema(main, retired)
    with main.connect(autocommit=False) as conn:
        for table in spec.tables:
            conn.execute(
                sql.SQL("LOCK TABLE {}.{} IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(main.schema), sql.Identifier(table)
                )
            )
        # Nothing more can reach the old tables now: catch up to the head of the log.
        caught_up = _replay(
            source, projection, datastore, progress=None, started=time.perf_counter()
        )
        for table in spec.tables:
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
                    sql.Identifier(main.schema), sql.Identifier(table), sql.Identifier(retired)
                )
            )
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
                    sql.Identifier(staging.schema),
                    sql.Identifier(table),
                    sql.Identifier(main.schema),
                )
            )
        conn.commit()
    _drop_schema(main, retired)
    return caught_up


def _recreate_schema(params: ConnectionParams, schema: str) -> None:
    _drop_schema(params, schema)
    with params.connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def _drop_schema(params: ConnectionParams, schema: str) -> None:
    with params.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
