"""The composition root: the one place that wires ovoz together.

The API, the projector, the worker, the CLI, the tests and the bench all call
:func:`bootstrap` (and :func:`services_of` for what the API serves with); nothing connects
to anything at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Transcoder
from eventsourcing.postgres import PostgresDatastore

from domain.accounts import AccountErasure
from domain.api_keys import ApiKeys
from domain.identity import OtpRules
from domain.ports import Clock, SmsSender
from domain.quota import UploadQuota
from domain.recordings_app import Recordings
from domain.sessions import SessionRules, Sessions
from domain.signin import Identity, IdentityServices
from domain.webhooks import WebhookOwners, Webhooks
from graphql_api.context import LanguageFacts, ServerFacts, Services, WebhookServices
from graphql_api.identity.pacing import SignInPacing
from graphql_api.media_urls import MediaSigner
from infrastructure import notices, speakers
from infrastructure.api_keys import ApiKeyRegistry, api_key_hash_key
from infrastructure.blobs import FileBlobStore
from infrastructure.callers import Callers
from infrastructure.clock import SystemClock
from infrastructure.config import Settings
from infrastructure.database import ConnectionParams, Database
from infrastructure.encryption import KeyStore, SubjectEncryptingMapper, store_keys_with_events
from infrastructure.erasure import ErasureProcessor, ErasureTracking
from infrastructure.formats import render
from infrastructure.hashing import Argon2Hasher
from infrastructure.intake import AudioIntake
from infrastructure.languages import language_support
from infrastructure.live import AudioEventsHub
from infrastructure.projection_runner import LogSource, SupervisedProjection
from infrastructure.quota import UploadClaims, create_claims_table
from infrastructure.session_notices import ended_sessions_channel
from infrastructure.sms import ConsoleSms, EskizSms
from infrastructure.sms_budget import PostgresSmsBudget
from infrastructure.tokens import Tokens
from infrastructure.views.api_keys import ApiKeysView
from infrastructure.views.audios import AudiosView
from infrastructure.views.jobs import JobsView, create_workers_table
from infrastructure.views.queue import QueueView
from infrastructure.views.sessions import SessionsView
from infrastructure.views.users import UsersView
from infrastructure.views.webhooks import WebhooksView
from infrastructure.webhook_dispatcher import DeliveryPolicy, WebhookDispatcher
from infrastructure.webhook_outbox import WebhookFanOut, WebhookOutbox
from infrastructure.webhook_urls import LiveRules, UrlRules, allowed_hosts
from infrastructure.worker import Engine, TranscriptionWorker
from projections.api_keys import ApiKeysProjection
from projections.audios import AudiosProjection
from projections.jobs import JobsProjection
from projections.sessions import SessionsProjection
from projections.users import UsersProjection
from projections.webhooks import WebhooksProjection

log = logging.getLogger("ovoz")


@dataclass
class Ovoz:
    """Everything a process of ovoz uses, built once and closed once."""

    settings: Settings
    database: Database
    params: ConnectionParams
    datastore: PostgresDatastore
    read_models: PostgresDatastore  # the users and audios views: commits need no WAL flush
    keys: KeyStore
    clock: Clock
    identity: Identity
    recordings: Recordings
    blobs: FileBlobStore
    tokens: Tokens
    users: UsersView
    audios: AudiosView
    jobs: JobsView
    sessions_view: SessionsView
    projections: dict[str, SupervisedProjection] = field(default_factory=dict)
    workers: list[TranscriptionWorker] = field(default_factory=list)

    @cached_property
    def queue(self) -> QueueView:
        """Positions and ETAs of the recordings waiting for transcription."""
        return QueueView(self.read_models)

    @cached_property
    def live(self) -> AudioEventsHub:
        """Live recording events for this process's subscriptions (listens on first use)."""
        return AudioEventsHub(self.params, queue=self.queue)

    _stopping: threading.Event = field(default_factory=threading.Event)

    @cached_property
    def callers(self) -> Callers:
        """Who each token's holder is now (accounts alive, current roles)."""
        return Callers(
            self.users,
            self.settings.admin_phone_numbers,
            token_lifetime=float(self.settings.jwt_ttl_seconds),
        )

    @cached_property
    def sessions(self) -> Sessions:
        """Sessions started by sign-ins, kept going by refresh tokens."""
        s = self.settings
        rules = SessionRules(
            idle_timeout=timedelta(seconds=s.session_idle_seconds),
            max_lifetime=timedelta(seconds=s.session_max_seconds),
            refresh_grace=timedelta(seconds=s.session_refresh_grace_seconds),
        )
        return Sessions(self.identity, self.clock, rules)

    @cached_property
    def api_keys(self) -> ApiKeyRegistry:
        """API keys: made, listed, revoked, and checked on every request showing one."""
        projection = self.projections["api_keys"]
        keys = ApiKeys(
            self.identity,
            api_key_hash_key(self.settings.phone_hmac_key),
            lambda owner: len(projection.view.live_of(owner)),
        )
        timeout = self.settings.read_your_writes_timeout * 6
        return ApiKeyRegistry(keys, projection, self.callers, wait_timeout=timeout)

    @cached_property
    def accounts(self) -> AccountErasure:
        return AccountErasure(
            self.identity,
            self.recordings,
            self.keys,
            self.recordings_of,
            sessions_of=self.sessions_of,
            api_keys_of=self.api_keys.ids_of,
            webhooks=self.webhooks,
        )

    @cached_property
    def intake(self) -> AudioIntake:
        """Uploaded files accepted as recordings, within their owner's quota."""
        s = self.settings
        quota = UploadQuota(s.quota_queued_audio_seconds, s.quota_stored_bytes)
        claims = UploadClaims(self.read_models, self.audios, self.recordings.name, quota)
        refused = frozenset(
            support.code
            for support in language_support(s)
            if s.refuse_unsupported_languages and not support.supported
        )
        return AudioIntake(
            self.recordings,
            self.blobs,
            claims,
            s.max_upload_bytes,
            s.max_audio_seconds,
            refused_languages=refused,
        )

    def start_notices(self) -> None:
        """Hear, on one connection, what other processes did that this one's caches must
        know: data keys destroyed (evicted from the cache; a user's is an erased account,
        whose tokens stop working here too), sessions ended (their access tokens stop
        working) and API keys revoked."""
        self.keys.on_erased = self.callers.forget
        channels = [
            self.keys.erasures_channel(),
            ended_sessions_channel(
                self.sessions_view,
                self.callers,
                self.clock,
                timedelta(seconds=self.settings.jwt_ttl_seconds),
            ),
            self.api_keys.revocations_channel(),
        ]
        threading.Thread(
            target=notices.follow,
            args=(self.params, channels, self._stopping),
            name="notices",
            daemon=True,
        ).start()

    def start_projections(self) -> None:
        for projection in self.projections.values():
            projection.start()
        self.webhook_dispatcher.start()  # the projector role delivers what it fans out

    # -- webhooks ---------------------------------------------------------------------------

    @cached_property
    def webhook_rules(self) -> UrlRules:
        """Where webhooks may go (tests may set this before the first use)."""
        hosts = allowed_hosts(list(self.settings.webhooks.allowed_hosts))
        return UrlRules(production=self.settings.is_production, allowed_hosts=hosts)

    @cached_property
    def webhook_view(self) -> WebhooksView:
        view = self.projections["webhooks"].view
        assert isinstance(view, WebhooksView)
        return view

    @cached_property
    def webhook_outbox(self) -> WebhookOutbox:
        outbox = self.projections["webhook_fanout"].view
        assert isinstance(outbox, WebhookOutbox)
        return outbox

    @cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(
            self.identity,
            self.keys,
            urls=LiveRules(lambda: self.webhook_rules),
            owners=_WebhookOwners(self),
            deliveries=self.webhook_outbox,
            max_per_owner=self.settings.webhooks.max_per_user,
        )

    @cached_property
    def webhook_dispatcher(self) -> WebhookDispatcher:
        w = self.settings.webhooks
        policy = DeliveryPolicy(
            threads=w.dispatchers,
            timeout=w.timeout_seconds,
            backoff=w.retry_backoff,
            retry_for=w.retry_for_seconds,
            in_flight=w.in_flight_per_webhook,
        )
        return WebhookDispatcher(
            self.webhook_outbox,
            webhooks=self.webhooks,
            recordings=self.recordings,
            rules=lambda: self.webhook_rules,
            params=self.params,
            policy=policy,
        )

    def webhooks_of(self, owner_id: UUID) -> list[UUID]:
        """Every webhook ``owner_id`` created so far (waits for the webhooks view to reach
        the head of the identity log)."""
        self.caught_up("webhooks")
        return self.webhook_view.all_ids_of(owner_id)

    def start_workers(
        self, count: int | None = None, engine: Callable[[], Engine] | None = None
    ) -> None:
        """Start transcription workers in this process (the model loads on the first job)."""
        settings = self.settings

        def whisper() -> Engine:
            if settings.whisper_isolation == "process":
                from infrastructure.engine_process import ProcessEngine

                return ProcessEngine(settings)
            from infrastructure.speakers import SpeakerLabelling
            from infrastructure.whisper import WhisperEngine

            return SpeakerLabelling(WhisperEngine(settings), enabled=settings.speaker_labels)

        for _ in range(count or settings.workers):
            worker = TranscriptionWorker(
                recordings=self.recordings,
                jobs=self.jobs,
                audios=self.audios,
                blob_path=self.blobs.path,
                engine=engine or whisper,
                params=self.params,
                vocabulary=self.users.vocabulary_of,
                lease_seconds=settings.job_lease_seconds,
            )
            worker.start()
            self.workers.append(worker)

    def recordings_of(self, owner_id: UUID) -> list[UUID]:
        """Every recording of ``owner_id`` recorded so far (waits for the read model to
        reach the head of the recordings log)."""
        self.caught_up("audios")
        return self.audios.ids_of(owner_id)

    def sessions_of(self, user_id: UUID) -> list[UUID]:
        """Every session of ``user_id`` started so far (waits for the sessions view to
        reach the head of the identity log)."""
        self.caught_up("sessions")
        return [row.id for row in self.sessions_view.of_user(user_id)]

    def caught_up(self, view: str) -> None:
        self.projections[view].catch_up(self.settings.read_your_writes_timeout * 6)

    def wait_for(self, application: str, position: int) -> bool:
        """Read-your-writes: wait (bounded) until every view of ``application`` has
        processed ``position``."""
        timeout = self.settings.read_your_writes_timeout
        return all(
            p.wait(position, timeout)
            for p in self.projections.values()
            if p.source.name == application and p.serves_reads
        )

    def close(self) -> None:
        self._stopping.set()
        for worker in self.workers:
            worker.stop()
        # Every runner is told first and waited for after: they stop together, not in turn.
        dispatcher = self.__dict__.get("webhook_dispatcher")
        if dispatcher is not None:
            dispatcher.request_stop()
        for projection in self.projections.values():
            projection.request_stop()
        if dispatcher is not None:
            dispatcher.stop()
        for projection in self.projections.values():
            projection.stop()
        self.identity.close()
        self.recordings.close()
        self.read_models.close()
        self.datastore.close()
        self.database.close()


def services_of(ovoz: Ovoz) -> Services:
    """What the API (GraphQL, files, subscriptions) serves with."""
    return Services(
        identity=ovoz.identity,
        recordings=ovoz.recordings,
        intake=ovoz.intake,
        users=ovoz.users,
        audios=ovoz.audios,
        tokens=ovoz.tokens,
        blob_path=ovoz.blobs.path,
        accounts=ovoz.accounts,
        callers=ovoz.callers,
        live=ovoz.live,
        queue=ovoz.queue,
        render_transcript=lambda fmt, text, segments, names, extra, script: render(
            fmt,
            text,
            segments,
            limits=ovoz.settings.subtitles,
            script=script,
            speakers=names,
            **extra,
        ),
        wait_for=ovoz.wait_for,
        sessions=ovoz.sessions,
        session_reads=ovoz.sessions_view,
        sessions_of=ovoz.sessions_of,
        api_keys=ovoz.api_keys,
        signin=_signin_pacing(ovoz.settings),
        webhooks=WebhookServices(ovoz.webhooks, ovoz.webhook_view, ovoz.webhook_outbox),
        media=MediaSigner(ovoz.settings.jwt_secret),
        production=ovoz.settings.is_production,
        server_info=ServerFacts(
            max_upload_bytes=ovoz.settings.max_upload_bytes,
            max_audio_seconds=ovoz.settings.max_audio_seconds,
            languages=tuple(
                LanguageFacts(s.code, s.name, s.supported) for s in language_support(ovoz.settings)
            ),
            refuses_unsupported_languages=ovoz.settings.refuse_unsupported_languages,
            speaker_labels=ovoz.settings.speaker_labels and speakers.available(),
        ),
    )


def _webhook_tables(
    read_models: PostgresDatastore, datastore: PostgresDatastore
) -> tuple[WebhooksView, WebhookOutbox]:
    view = WebhooksView(read_models)
    view.create_table()
    outbox = WebhookOutbox(datastore)  # durable: a queued message is a promise
    outbox.create_table()
    return view, outbox


class _WebhookOwners(WebhookOwners):
    """What the webhook use cases read of the webhooks view."""

    def __init__(self, ovoz: Ovoz) -> None:
        self._ovoz = ovoz

    def live_count(self, owner_id: UUID) -> int:
        return self._ovoz.webhook_view.live_count(owner_id)

    def ids_of(self, owner_id: UUID) -> list[UUID]:
        return self._ovoz.webhooks_of(owner_id)


def _signin_pacing(settings: Settings) -> SignInPacing:
    # Twice the argon2 slots: while some sign-ins hash, others read or write their
    # challenge, so argon2 stays busy without a flood holding more threads than that.
    return SignInPacing(
        threads=2 * settings.argon2_max_concurrency,
        failure_floor=settings.otp.verify_floor_seconds,
    )


def build_sms(settings: Settings) -> SmsSender:
    if settings.sms_backend == "eskiz" and settings.eskiz is not None:
        e = settings.eskiz
        return EskizSms(e.email, e.password, sender=e.sender, base_url=e.base_url)
    return ConsoleSms(settings.sms_outbox)


def otp_rules(settings: Settings) -> OtpRules:
    p = settings.otp
    return OtpRules(
        code_ttl=timedelta(seconds=p.code_ttl_seconds),
        max_failures=p.max_failures,
        failure_window=timedelta(seconds=p.failure_window_seconds),
        resend_cooldown=timedelta(seconds=p.resend_cooldown_seconds),
        max_codes_per_hour=p.max_codes_per_hour,
        max_consecutive_failures=p.max_consecutive_failures,
        max_codes_per_number_per_hour=p.max_codes_per_number_per_hour,
    )


def bootstrap(
    settings: Settings,
    *,
    sms: SmsSender | None = None,
    clock: Clock | None = None,
) -> Ovoz:
    """Open the database and build every component. Projections are built, not started."""
    database = Database(settings)
    params = database.open()
    datastore = params.datastore(pool_size=4)
    read_models = params.datastore(pool_size=4, durable=False)
    try:
        keys = KeyStore(datastore, settings.master_key, settings.previous_master_keys)
        keys.create_table()
        clock = clock or SystemClock()
        sms_budget = PostgresSmsBudget(datastore, settings.phone_hmac_key, settings.sms_budgets)
        sms_budget.create_table()
        identity = Identity(
            IdentityServices(
                clock=clock,
                hasher=Argon2Hasher(
                    settings.otp_pepper, max_concurrent=settings.argon2_max_concurrency
                ),
                sms=sms or build_sms(settings),
                phone_hmac_key=settings.phone_hmac_key,
                rules=otp_rules(settings),
                default_region=settings.default_region,
                test_codes=settings.otp_test_numbers,
                admin_phones=settings.admin_phone_numbers,
                allowed_countries=settings.sms_allowed_countries,
                sms_budget=sms_budget,
            ),
            env=params.eventsourcing_env(),
            mapper_factory=lambda t: SubjectEncryptingMapper(t, keys),
        )
        blobs = FileBlobStore(settings.blob_dir)
        blobs.prepare()
        recordings = Recordings(
            blobs,
            keys,
            env=params.eventsourcing_env(),
            mapper_factory=lambda t: SubjectEncryptingMapper(t, keys),
            history_mapper_factory=lambda t: SubjectEncryptingMapper(
                t, keys, erased_as_placeholder=True
            ),
        )
        for app in (identity, recordings):
            store_keys_with_events(app, keys)
        users = UsersView(read_models)
        users.create_table()
        api_key_rows = ApiKeysView(read_models)
        api_key_rows.create_table()
        sessions_view = SessionsView(read_models)
        sessions_view.create_table()
        audios = AudiosView(read_models)
        audios.create_table()
        create_claims_table(read_models)  # beside audios: uploads admitted, not yet shown
        erasure = ErasureTracking(datastore)
        erasure.create_table()
        jobs = JobsView(
            datastore, backoff=tuple(timedelta(seconds=s) for s in settings.retry_backoff)
        )
        jobs.create_table()
        create_workers_table(datastore)
        webhook_view, webhook_outbox = _webhook_tables(read_models, datastore)
    except Exception:
        read_models.close()
        datastore.close()
        database.close()
        raise
    ovoz = Ovoz(
        settings=settings,
        database=database,
        params=params,
        datastore=datastore,
        read_models=read_models,
        keys=keys,
        clock=clock,
        identity=identity,
        recordings=recordings,
        blobs=blobs,
        audios=audios,
        jobs=jobs,
        tokens=Tokens(
            settings.jwt_secret,
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.jwt_ttl_seconds,
        ),
        users=users,
        sessions_view=sessions_view,
    )
    identity_log = _log_source(identity, keys)
    recordings_log = _log_source(recordings, keys)
    ovoz.projections["users"] = SupervisedProjection(identity_log, UsersProjection(users))
    ovoz.projections["sessions"] = SupervisedProjection(
        identity_log, SessionsProjection(sessions_view)
    )
    ovoz.projections["api_keys"] = SupervisedProjection(
        identity_log, ApiKeysProjection(api_key_rows)
    )
    ovoz.start_notices()
    ovoz.projections["audios"] = SupervisedProjection(recordings_log, AudiosProjection(audios))
    # queuePosition and etaSeconds read the jobs view: writes wait for it too.
    ovoz.projections["jobs"] = SupervisedProjection(recordings_log, JobsProjection(jobs))
    ovoz.projections["erasure"] = SupervisedProjection(
        recordings_log,
        ErasureProcessor(erasure, recordings),
        serves_reads=False,
        parks_poison=False,
    )
    ovoz.projections["webhooks"] = SupervisedProjection(
        identity_log, WebhooksProjection(webhook_view)
    )
    ovoz.projections["webhook_fanout"] = SupervisedProjection(
        recordings_log, WebhookFanOut(webhook_outbox), serves_reads=False
    )
    return ovoz


def _log_source(app: Application[UUID], keys: KeyStore) -> LogSource:
    """The application's log, read with a mapper that shows erased events as such."""
    transcoder: Transcoder = app.construct_transcoder()
    mapper = SubjectEncryptingMapper(transcoder, keys, erased_as_placeholder=True)
    return LogSource(name=app.name, recorder=app.recorder, mapper=mapper)
