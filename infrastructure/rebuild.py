"""``ovoz projections rebuild``: replay the log into fresh read models and swap them in.

The new tables are built in a staging schema while queries keep reading the old ones and
the live projector keeps them current. Then, holding exclusive locks on the old tables
(the live projector and readers wait, briefly), the new tables catch up with the head of
the log and the two sets change schemas in one transaction. Statements that waited on
the locks look their tables up again once they get them, so they continue on the new
tables.

What the log does not hold is carried over from the old tables in that transaction: the
live progress of transcriptions, and the leases and attempt counts that workers write
into the jobs view (a rebuilt jobs view re-runs no finished job and takes no job away
from the worker that holds it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from psycopg import sql

from infrastructure.bootstrap import Ovoz
from infrastructure.database import ConnectionParams, SchemaDatastore
from infrastructure.projection_runner import LogSource
from infrastructure.views.api_keys import ApiKeysView
from infrastructure.views.audios import AudiosView
from infrastructure.views.jobs import JobsView
from infrastructure.views.sessions import SessionsView
from infrastructure.views.users import UsersView
from infrastructure.views.webhooks import WebhooksView
from projections.api_keys import ApiKeysInMemory, ApiKeysProjection
from projections.audios import AudiosInMemory, AudiosProjection
from projections.jobs import JOBS_CHANNEL, JobsInMemory, JobsProjection
from projections.sessions import SessionsInMemory, SessionsProjection
from projections.users import UsersInMemory, UsersProjection
from projections.webhooks import WebhooksInMemory, WebhooksProjection

log = logging.getLogger("ovoz.rebuild")

_PAGE = 5000
Progress = Callable[[int, int, float], None]  # done, total, events per second


CarryOver = Callable[[psycopg.Connection[Any], sql.Identifier, sql.Identifier], None]


@dataclass(frozen=True)
class _Spec:
    view: Callable[[Ovoz, SchemaDatastore], Any]  # over the staging tables
    in_memory: Callable[[Ovoz], Any]
    projection: Callable[[Any], Projection[Any]]
    # Copies what is not in the log from the live tables (first schema) into the new ones.
    carry_over: CarryOver | None = None


def _carry_audios(conn: psycopg.Connection[Any], live: sql.Identifier, new: sql.Identifier) -> None:
    # Live progress is not in the log: a running transcription keeps its bar.
    conn.execute(
        sql.SQL(
            "UPDATE {new}.audios AS n SET progress = o.progress FROM {live}.audios AS o "
            "WHERE n.id = o.id AND n.version = o.version AND n.status = 'PROCESSING' "
            "AND o.status = 'PROCESSING'"
        ).format(new=new, live=live)
    )
    # Cached responses are keyed by (owner position, progress ticks). Positions come out
    # of a replay unchanged, so every owner's ticks move on by one: no answer computed
    # from the old tables can be served for the new ones.
    conn.execute(
        sql.SQL(
            "INSERT INTO {new}.audio_progress_ticks (owner_id, ticks) "
            "SELECT owner_id, max(ticks) + 1 FROM ("
            "  SELECT owner_id, ticks FROM {live}.audio_progress_ticks"
            "  UNION ALL SELECT owner_id, 0 FROM {new}.audio_owner_positions"
            ") AS t GROUP BY owner_id"
        ).format(new=new, live=live)
    )


def _carry_jobs(conn: psycopg.Connection[Any], live: sql.Identifier, new: sql.Identifier) -> None:
    # The log decides each job's state. Where the live row agrees, what workers wrote
    # (attempt, lease, back-off, times) stays: a leased job keeps its worker.
    conn.execute(
        sql.SQL(
            "UPDATE {new}.transcription_jobs AS n SET attempt = o.attempt, "
            "available_at = o.available_at, lease_owner = o.lease_owner, "
            "lease_expires_at = o.lease_expires_at, updated_at = o.updated_at "
            "FROM {live}.transcription_jobs AS o "
            "WHERE n.recording_id = o.recording_id AND n.state = o.state"
        ).format(new=new, live=live)
    )
    conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(JOBS_CHANNEL)))  # on commit


def _carry_api_keys(
    conn: psycopg.Connection[Any], live: sql.Identifier, new: sql.Identifier
) -> None:
    # Uses are not in the log (see projections.api_keys): each key keeps its last one.
    conn.execute(
        sql.SQL(
            "UPDATE {new}.api_keys AS n SET last_used_at = o.last_used_at "
            "FROM {live}.api_keys AS o WHERE n.id = o.id"
        ).format(new=new, live=live)
    )


SPECS: dict[str, _Spec] = {
    "users": _Spec(lambda _, ds: UsersView(ds), lambda _: UsersInMemory(), UsersProjection),
    "audios": _Spec(
        lambda _, ds: AudiosView(ds),
        lambda _: AudiosInMemory(),
        AudiosProjection,
        carry_over=_carry_audios,
    ),
    "jobs": _Spec(
        lambda ovoz, ds: JobsView(ds, backoff=ovoz.jobs.backoff),
        lambda ovoz: JobsInMemory(ovoz.jobs.backoff),
        JobsProjection,
        carry_over=_carry_jobs,
    ),
    "sessions": _Spec(
        lambda _, ds: SessionsView(ds), lambda _: SessionsInMemory(), SessionsProjection
    ),
    "webhooks": _Spec(
        lambda _, ds: WebhooksView(ds), lambda _: WebhooksInMemory(), WebhooksProjection
    ),
    "api_keys": _Spec(
        lambda _, ds: ApiKeysView(ds),
        lambda _: ApiKeysInMemory(),
        ApiKeysProjection,
        carry_over=_carry_api_keys,
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
    """Rebuild one read model (a name in SPECS) and swap it in atomically."""
    spec = SPECS[name]
    source = ovoz.projections[name].source
    main = ovoz.params
    staging = main.in_schema(f"{main.schema}__rebuild_{name}"[:63])
    _recreate_schema(main, staging.schema)
    datastore = staging.datastore(pool_size=2)
    started = time.perf_counter()
    try:
        view = spec.view(ovoz, datastore)
        view.announce = False  # subscribers have seen these changes already
        view.create_table()
        # The bulk of the log is folded in memory and copied in at once; the few events
        # that arrive meanwhile go through the table view, under the swap's locks.
        memory = spec.in_memory(ovoz)
        events = _replay(
            source, spec.projection(memory), datastore, progress=progress, started=started
        )
        view.copy_from(memory, source.name)
        view.announce = True  # the catch-up's events happen now: subscribers must hear
        projection = spec.projection(view)
        events += _swap(
            main,
            staging,
            spec,
            tables=view.tables,
            source=source,
            projection=projection,
            datastore=datastore,
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
    tables: tuple[str, ...],
    source: LogSource,
    projection: Projection[Any],
    datastore: SchemaDatastore,
) -> int:
    """Lock the live tables, let the new ones catch up, exchange them. Returns how many
    events the catch-up processed."""
    retired = f"{main.schema}__retired"[:63]
    _recreate_schema(main, retired)
    with main.connect(autocommit=False) as conn:
        for table in tables:
            conn.execute(
                sql.SQL("LOCK TABLE {}.{} IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(main.schema), sql.Identifier(table)
                )
            )
        # Nothing more can reach the old tables now: catch up to the head of the log.
        caught_up = _replay(
            source, projection, datastore, progress=None, started=time.perf_counter()
        )
        if spec.carry_over is not None:
            spec.carry_over(conn, sql.Identifier(main.schema), sql.Identifier(staging.schema))
        for table in tables:
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
