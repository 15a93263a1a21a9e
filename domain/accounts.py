"""Deleting an account: the person, their sign-in history and every recording, for good."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from domain.access import Principal
from domain.ports import SubjectKeys
from domain.recordings import RecordingNotFoundError
from domain.recordings_app import Recordings
from domain.signin import Identity
from domain.webhooks import Webhooks


class AccountErasure:
    """The deleteAccount use case, across the identity and recordings contexts.

    Order matters: AccountDeleted is recorded first; then the user's keys are destroyed,
    after which the erasure processor deletes any recording still arriving for this owner;
    then every recording already there is deleted (blob, rows and key).
    ``recordings_of(owner)`` must list every recording recorded so far (it waits for the
    read model to reach the head of the log).
    """

    def __init__(
        self,
        identity: Identity,
        recordings: Recordings,
        keys: SubjectKeys,
        recordings_of: Callable[[UUID], list[UUID]],
        sessions_of: Callable[[UUID], list[UUID]] | None = None,
        *,
        api_keys_of: Callable[[UUID], list[UUID]] | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.identity = identity
        self.recordings = recordings
        self.keys = keys
        self.recordings_of = recordings_of
        self.sessions_of = sessions_of
        self.api_keys_of = api_keys_of
        self.webhooks = webhooks

    def delete_account(self, principal: Principal) -> int:
        """Returns the identity log position of the deletion."""
        # Sessions (their devices and addresses are personal data) are listed before the
        # deletion is recorded: the sessions view forgets the user's rows once it is.
        sessions = [] if self.sessions_of is None else self.sessions_of(principal.user_id)
        # API keys likewise (the api_keys view drops them on the deletion).
        api_keys = [] if self.api_keys_of is None else self.api_keys_of(principal.user_id)
        subjects, position = self.identity.delete_account(principal.user_id, principal.user_id)
        self.keys.destroy([*subjects, *sessions, *api_keys])
        if self.webhooks is not None:  # before the recordings: no audio.deleted goes out
            self.webhooks.erase_owner(principal.user_id)
        owner = Principal(user_id=principal.user_id, role=principal.role, expires_at=0)
        for recording_id in self.recordings_of(principal.user_id):
            try:
                self.recordings.delete(owner, recording_id)
            except RecordingNotFoundError:
                continue  # deleted meanwhile
        return position
