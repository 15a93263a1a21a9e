"""Finishes every deletion: removes the blob and destroys the data key.

The delete use case does both at once; this processor follows the recordings log and
does them again for every AudioDeleted, so that a crash between recording the deletion
and erasing cannot leave audio behind. It advances its tracking position only after
both succeeded, so a failure is retried (after a restart too) until done.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.erasure import ErasedEvent
from domain.recordings import Recording
from domain.recordings_app import Recordings

_DELETED_TOPIC = get_topic(Recording.AudioDeleted)


class ErasureTracking(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name="erasure_tracking", **kwargs)


class ErasureProcessor(Projection[ErasureTracking]):
    name = "erasure"
    topics = (_DELETED_TOPIC,)

    def __init__(self, view: ErasureTracking, recordings: Recordings) -> None:
        super().__init__(view)
        self.recordings = recordings

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, e: Recording.AudioDeleted, tracking: Tracking) -> None:
        self.recordings.erase(e.originator_id, e.originator_id.hex)
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        # Only deletions arrive here (topic filter); the key is already gone, the blob
        # may not be.
        self.recordings.erase(e.originator_id, e.originator_id.hex)
        self.view.insert_tracking(tracking)
