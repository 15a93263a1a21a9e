"""The ``webhooks`` table: the PostgreSQL implementation of the webhooks view's ports."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Tracking

from infrastructure.views.tracked import TrackedView
from projections.webhooks import WEBHOOK_COLUMNS, WebhookRow

_COLUMNS = WEBHOOK_COLUMNS.listed


class WebhooksView(TrackedView):
    """The ``webhooks`` table, written with its tracking record (``WebhookWrites`` and
    ``WebhookReads``). No secret here: deliveries read it from the event store."""

    tables = ("webhooks", "webhooks_tracking")
    columns = WEBHOOK_COLUMNS
    create = (
        "CREATE TABLE IF NOT EXISTS webhooks ("
        "id uuid PRIMARY KEY, owner_id uuid NOT NULL, url text NOT NULL, "
        "events jsonb NOT NULL, include_transcript boolean NOT NULL, "
        "created_at timestamptz NOT NULL, deleted boolean NOT NULL)",
        "CREATE INDEX IF NOT EXISTS webhooks_owner ON webhooks (owner_id, created_at)",
    )

    def add(self, row: WebhookRow, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_row(curs, row)
            self._insert_tracking(curs, tracking)

    def mark_deleted(self, webhook_id: UUID, tracking: Tracking) -> None:
        self._write("UPDATE webhooks SET deleted = true WHERE id = %s", webhook_id, tracking)

    def close_owner(self, owner_id: UUID, tracking: Tracking) -> None:
        self._write(
            "UPDATE webhooks SET deleted = true, url = '' WHERE owner_id = %s", owner_id, tracking
        )

    def remove(self, webhook_id: UUID, tracking: Tracking) -> None:
        self._write("DELETE FROM webhooks WHERE id = %s", webhook_id, tracking)

    def _write(self, statement: str, subject: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(statement, (subject,))
            self._insert_tracking(curs, tracking)

    # -- reads ------------------------------------------------------------------------------

    def of_owner(self, owner_id: UUID) -> list[WebhookRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT {_COLUMNS} FROM webhooks "  # noqa: S608
                "WHERE owner_id = %s AND NOT deleted ORDER BY created_at, id",
                (owner_id,),
            )
            return [WEBHOOK_COLUMNS.load(r) for r in curs.fetchall()]

    def get(self, webhook_id: UUID) -> WebhookRow | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT {_COLUMNS} FROM webhooks WHERE id = %s", (webhook_id,))  # noqa: S608
            record = curs.fetchone()
        return None if record is None else WEBHOOK_COLUMNS.load(record)

    def live_count(self, owner_id: UUID) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT count(*) AS n FROM webhooks WHERE owner_id = %s AND NOT deleted",
                (owner_id,),
            )
            row = curs.fetchone()
        return int(row["n"]) if row else 0

    def all_ids_of(self, owner_id: UUID) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT id FROM webhooks WHERE owner_id = %s", (owner_id,))
            return [r["id"] for r in curs.fetchall()]
