"""The composition root: every service of a process, built once by `build_container`.

`serve` (app.py), `worker` and every CLI command (cli/) build the same Container; nothing else
imports this module. Services publish events to `events` (an EventBus): `serve` subscribes the
socket layer to it, the worker and the CLI leave it without subscribers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from medtalk.audit import AuditTrail
from medtalk.calls.enforcer import MaxDurationEnforcer
from medtalk.calls.history import CallHistory
from medtalk.calls.providers import ProviderConfig, VideoProvider, create_video_provider
from medtalk.calls.service import CallPolicy, CallService
from medtalk.chat.appointments import PlatformAppointments
from medtalk.chat.service import ChatService
from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.core.events import EventBus
from medtalk.core.ratelimit import RateLimiter, create_rate_limiter
from medtalk.db.engine import Database, create_engine
from medtalk.files.downloads import FileDownloads
from medtalk.files.links import FileLinks
from medtalk.files.media import MediaCheck
from medtalk.files.scanning import ClamdScanner
from medtalk.files.service import FileService, ImagePolicy
from medtalk.files.storage import FileStorage, create_storage
from medtalk.files.validation import UploadLimits
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.runtime import JobRuntime, NodeWork
from medtalk.notifications import build_notifications
from medtalk.notifications.service import NotificationService
from medtalk.privacy.export import DataExport
from medtalk.realtime.presence import Presence, create_presence
from medtalk.recordings.assembler import AssemblyPolicy, RecordingAssembler
from medtalk.recordings.downloads import RecordingDownloads
from medtalk.recordings.links import RecordingLinks
from medtalk.recordings.media import MediaTools
from medtalk.recordings.service import RecordingPolicy, RecordingService
from medtalk.recordings.uploads import RecordingUploads
from medtalk.search.index import SearchIndex
from medtalk.sessions import RevocationList, create_revocation_list
from medtalk.settings import DEV_JIBRI_SECRET, Settings
from medtalk.users.service import UserDirectory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Container:
    """Everything a request, a socket event, a job or an operator command may need."""

    settings: Settings
    clock: Clock
    db: Database
    keys: KeyRing
    storage: FileStorage
    events: EventBus
    rate_limiter: RateLimiter
    presence: Presence
    users: UserDirectory
    revocations: RevocationList
    verifier: TokenVerifier
    audit: AuditTrail
    chat: ChatService
    files: FileService
    file_downloads: FileDownloads
    calls: CallService
    recordings: RecordingService
    recording_uploads: RecordingUploads
    recording_downloads: RecordingDownloads
    export: DataExport
    notifications: NotificationService
    # background work of a process (started by `serve` or `worker`, never by the CLI)
    call_deadlines: MaxDurationEnforcer
    recording_jobs: RecordingAssembler
    jobs: JobRuntime

    async def close(self) -> None:
        await self.presence.close()
        await self.db.close()


def build_container(
    settings: Settings, clock: Clock | None = None, *, consume_jobs: bool = False
) -> Container:
    """Build every service of one process. `consume_jobs`: this is the `worker` (it consumes
    queued jobs); `serve` only relays them (see jobs/runtime.py)."""
    clock = clock or Clock()
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    keys = load_keys(settings)
    # scale-out: rate limits, outbox, presence (configuration picks the backends)
    rate_limiter = create_rate_limiter(settings)
    outbox = JobOutbox(clock)
    presence = create_presence(settings, clock)
    storage = create_storage(settings, keys)
    events = EventBus()
    revocations = create_revocation_list(settings, db, clock)
    audit = AuditTrail(
        db,
        clock,
        settings.audit_secret,
        refusals_per_window=settings.audit_refusals_per_window,
        refusal_window_seconds=settings.audit_refusal_window_seconds,
    )
    chat = ChatService(
        db,
        keys,
        clock,
        events,
        audit,
        max_message_length=settings.max_message_length,
        rate_limiter=rate_limiter,
        outbox=outbox,
        batch_max=settings.message_batch_max,  # performance (issue 8): group commit
        batch_window_seconds=settings.message_batch_window_ms / 1000,
        # issue 16: appointments bound from the platform's API, not by whoever names them first
        appointments=(
            PlatformAppointments(settings.appointment_api_url, settings.appointment_api_token)
            if settings.appointment_api_url
            else None
        ),
        patients_bind_appointments=settings.patients_bind_appointments,
        online_among=presence.online_among,  # issue 15: offline jobs only for who is away
        unseen_window=timedelta(seconds=settings.notify_unseen_window_seconds),
    )
    chat.set_search_index(SearchIndex(keys))  # issue 19: the blind index, with each message
    links = RecordingLinks(
        settings.link_secret, settings.recording_link_ttl_seconds, settings.public_url
    )
    policy = recording_policy(settings)
    recordings = RecordingService(db, clock, events, policy, outbox, audit)
    recording_downloads = RecordingDownloads(db, storage, links, audit)
    calls = CallService(
        db,
        clock,
        events,
        video_provider(settings),
        CallPolicy.from_settings(settings),
        recording_link=recording_downloads.room_link,
        audit=audit,
        outbox=outbox,
    )
    file_links = FileLinks(
        settings.link_secret, settings.file_link_ttl_seconds, settings.public_url
    )
    chat.set_file_link(file_links.link, file_links.thumbnail_link)
    files = build_files(
        settings, db, storage, chat, clock, events, outbox, rate_limiter, audit, file_links
    )
    file_downloads = FileDownloads(
        db,
        storage,
        chat,
        file_links,
        audit,
        # Set: downloads redirect to S3's own presigned URL, after our checks.
        redirect_ttl_seconds=(
            settings.s3_presign_ttl_seconds if settings.s3_download_redirect else None
        ),
    )
    call_deadlines = MaxDurationEnforcer(calls, clock)
    assembler = build_assembler(settings, db, storage, clock, events, links)
    # Scans and recording assembly are jobs too, run by `serve` nodes (sockets, tools); the
    # worker runs the portable kinds only.
    node = None if consume_jobs else NodeWork(files, recordings, assembler, CallHistory(db, chat))
    # Explicit subscriptions: who reacts to which committed fact.
    calls.call_started.subscribe(call_deadlines.call_started)
    calls.call_finished.subscribe(recordings.call_finished)
    # issue 18: incoming calls and ready recordings (event bus), missed calls -> notifications
    notifications = build_notifications(settings, db, clock, outbox, keys)
    events.subscribe(notifications.signals)
    calls.call_finished.subscribe(notifications.signals.call_finished)
    return Container(
        settings=settings,
        clock=clock,
        db=db,
        keys=keys,
        storage=storage,
        events=events,
        rate_limiter=rate_limiter,
        presence=presence,
        users=UserDirectory(db, clock),
        revocations=revocations,
        verifier=TokenVerifier(settings, revocations),
        audit=audit,
        chat=chat,
        files=files,
        file_downloads=file_downloads,
        calls=calls,
        recordings=recordings,
        recording_uploads=RecordingUploads(db, clock, storage, policy, recordings),
        recording_downloads=recording_downloads,
        export=DataExport(db, chat, file_downloads, clock, audit, storage),
        notifications=notifications.service,
        call_deadlines=call_deadlines,
        recording_jobs=assembler,
        jobs=JobRuntime(
            settings,
            db,
            storage,
            clock,
            presence,
            outbox,
            consume=consume_jobs,
            node=node,
            notifications=notifications,
        ),
    )


def load_keys(settings: Settings) -> KeyRing:
    if settings.encryption_keys:
        return KeyRing.parse(settings.encryption_keys)
    logger.warning("dev mode: using a generated encryption key under %s", settings.data_dir)
    return KeyRing.load_or_create_dev(settings.data_dir)


def upload_limits(settings: Settings) -> UploadLimits:
    limits = UploadLimits(
        image=settings.max_image_bytes,
        file=settings.max_file_bytes,
        audio=settings.max_audio_bytes,
        video=settings.max_video_bytes,
    )
    return limits.capped(settings.max_upload_bytes)


def _scanner(settings: Settings) -> ClamdScanner | None:
    if settings.clamd_url:
        return ClamdScanner(settings.clamd_url, settings.clamd_timeout_seconds)
    return None


def build_files(
    settings: Settings,
    db: Database,
    storage: FileStorage,
    chat: ChatService,
    clock: Clock,
    events: EventBus,
    outbox: JobOutbox,
    rate_limiter: RateLimiter,
    audit: AuditTrail,
    links: FileLinks,
) -> FileService:
    """Files (issue 4): storage backend, limits, image policy and malware scanner."""
    return FileService(
        db,
        storage,
        chat,
        clock,
        events,
        outbox,
        audit,
        links,
        limits=upload_limits(settings),
        image_policy=ImagePolicy(
            settings.max_image_pixels, settings.thumbnail_max_px, settings.image_decodes
        ),
        scanner=_scanner(settings),
        rate_limiter=rate_limiter,
        # Voice messages and video clips (issue 19): measured by the recordings' ffprobe.
        media=MediaCheck(
            MediaTools(settings.recording_ffmpeg, settings.recording_ffprobe),
            settings.data_dir / "media-work",
        ),
    )


def video_provider(settings: Settings) -> VideoProvider:
    config = ProviderConfig(
        public_url=settings.public_url,  # empty: relative links (/call/...)
        jitsi_domain=settings.jitsi_domain,
        jitsi_app_id=settings.jitsi_app_id,
        jitsi_app_secret=settings.jitsi_app_secret,
        jitsi_audience=settings.jitsi_audience,
        agora_app_id=settings.agora_app_id,
        agora_app_certificate=settings.agora_app_certificate,
        token_secret=settings.room_token_secret,
    )
    return create_video_provider(settings.video_provider, config)


def recording_policy(settings: Settings) -> RecordingPolicy:
    """Call recording (issue 10): consent, chunk uploads, Jibri uploads. Recordings share the
    file store (and its client) with chat files."""
    return RecordingPolicy(
        chunk_max_bytes=settings.recording_chunk_max_bytes,
        max_bytes=settings.recording_max_bytes,
        final_chunk_grace=timedelta(seconds=settings.recording_final_chunk_seconds),
        jibri_secret=settings.jibri_secret,
        refuse_dev_jibri_secret=DEV_JIBRI_SECRET,  # in any mode (issue 16)
    )


def build_assembler(
    settings: Settings,
    db: Database,
    storage: FileStorage,
    clock: Clock,
    events: EventBus,
    links: RecordingLinks,
) -> RecordingAssembler:
    """What the `assemble_recording` job runs (issue 10)."""
    return RecordingAssembler(
        db,
        clock,
        events,
        storage,
        links,
        MediaTools(settings.recording_ffmpeg, settings.recording_ffprobe),
        AssemblyPolicy(
            lease=timedelta(seconds=settings.recording_assembly_lease_seconds),
            work_dir=settings.data_dir / "recording-work",
        ),
        scanner=_scanner(settings),
    )
