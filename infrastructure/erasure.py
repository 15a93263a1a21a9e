"""Finishes every deletion: removes the blob and destroys the data key.

The delete use case does both at once; this processor follows the recordings log and
does them again for every AudioDeleted, so that a crash between recording the deletion
and erasing cannot leave audio behind. It also deletes any upload whose owner's account
was erased meanwhile. It advances its tracking position only after
both succeeded, so a failure is retried (after a restart too) until done.
"""

from __future__ import annotations

import contextlib
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.access import Principal
from domain.erasure import ErasedEvent
from domain.identity import Role
from domain.recordings import Recording, RecordingNotFoundError
from domain.recordings_app import Recordings

_DELETED_TOPIC = get_topic(Recording.AudioDeleted)
_UPLOADED_TOPIC = get_topic(Recording.AudioUploaded)


class ErasureTracking(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name="erasure_tracking", **kwargs)


class ErasureProcessor(Projection[ErasureTracking]):
    name = "erasure"
    topics = (_DELETED_TOPIC, _UPLOADED_TOPIC)

    def __init__(self, view: ErasureTracking, recordings: Recordings) -> None:
        super().__init__(view)
        self.recordings = recordings

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, e: Recording.AudioDeleted, tracking: Tracking) -> None:
        self.recordings.finish_erasing(e.originator_id)
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, e: Recording.AudioUploaded, tracking: Tracking) -> None:
        # An upload that raced its owner's account deletion goes the same way.
        if self.recordings.keys.is_destroyed(e.owner_id):
            owner = Principal(user_id=e.owner_id, role=Role.USER, expires_at=0)
            with contextlib.suppress(RecordingNotFoundError):  # already deleted
                self.recordings.delete(owner, e.originator_id)
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        # The recording's key is gone, and erasing removes the blob before the key;
        # finishing again keeps the key destroyed (erasing is idempotent).
        self.recordings.finish_erasing(e.originator_id)
        self.view.insert_tracking(tracking)
