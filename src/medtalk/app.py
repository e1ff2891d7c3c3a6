"""create_app(settings): FastAPI (REST, OpenAPI) + Socket.IO, wired once. Start reading here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import socketio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from medtalk import __version__
from medtalk.api.bodylimit import BodyLimits, route_rules
from medtalk.api.errors import install_error_handlers
from medtalk.api.headers import SecureHeaders
from medtalk.api.services import Services
from medtalk.audit import AuditTrail
from medtalk.audit import routes as audit_routes
from medtalk.calls import routes as call_routes
from medtalk.calls.enforcer import MaxDurationEnforcer
from medtalk.calls.providers import ProviderConfig, create_video_provider
from medtalk.calls.service import CallPolicy, CallService
from medtalk.chat import routes as chat_routes
from medtalk.chat.service import ChatService
from medtalk.core import metrics
from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.core.events import EventSink
from medtalk.core.ratelimit import RateLimiter, create_rate_limiter
from medtalk.db.engine import Database, create_engine
from medtalk.files import routes as file_routes
from medtalk.files.scanning import ClamdScanner
from medtalk.files.service import FileService, ImagePolicy
from medtalk.files.storage import FileStorage, create_storage
from medtalk.files.validation import UploadLimits
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.runtime import JobRuntime
from medtalk.ops import routes as ops_routes
from medtalk.ops.checks import (
    Readiness,
    amqp_check,
    database_check,
    directory_check,
    redis_check,
)
from medtalk.ops.middleware import RequestTelemetry
from medtalk.ops.stats import ActiveConversations
from medtalk.privacy import routes as privacy_routes
from medtalk.realtime import jsoncodec
from medtalk.realtime.broadcast import create_broadcast
from medtalk.realtime.delivery import Delivery
from medtalk.realtime.edge import EdgeServer
from medtalk.realtime.events import ChatNamespace
from medtalk.realtime.fanout import NAMESPACE, SocketEventSink
from medtalk.realtime.node import NodeTasks
from medtalk.realtime.presence import create_presence
from medtalk.recordings import routes as recording_routes
from medtalk.recordings.assembler import AssemblyPolicy, RecordingAssembler
from medtalk.recordings.links import RecordingLinks
from medtalk.recordings.media import MediaTools
from medtalk.recordings.service import RecordingPolicy, RecordingService
from medtalk.sessions import create_revocation_list
from medtalk.sessions import routes as session_routes
from medtalk.settings import DEV_JIBRI_SECRET, Settings
from medtalk.users.service import UserDirectory
from medtalk.web import install_demo_accounts, install_web_client

logger = logging.getLogger(__name__)

UPLOAD_PATH = "/api/v1/chat/messages/upload"
# Multipart framing around the file; a body larger than the limit plus this is refused unread.
MULTIPART_SLACK = 64 * 1024


def load_keys(settings: Settings) -> KeyRing:
    if settings.encryption_keys:
        return KeyRing.parse(settings.encryption_keys)
    logger.warning("dev mode: using a generated encryption key under %s", settings.data_dir)
    return KeyRing.load_or_create_dev(settings.data_dir)


class Background:
    """What a `serve` node runs beside requests: fan-out listener, presence, resync, jobs."""

    def __init__(self, node: NodeTasks, jobs: JobRuntime) -> None:
        self.node = node
        self.jobs = jobs

    async def start(self) -> None:
        await self.node.start()
        await self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.node.stop()


def build_services(
    settings: Settings, sio: socketio.AsyncServer, clock: Clock
) -> tuple[Services, ChatNamespace, Background]:
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    keys = load_keys(settings)
    # scale-out: rate limits, outbox, presence, cross-node fan-out (configuration picks backends)
    rate_limiter = create_rate_limiter(settings)
    outbox = JobOutbox(clock)
    presence = create_presence(settings, clock)
    storage = create_storage(settings, keys)
    users = UserDirectory(db, clock)
    revocations = create_revocation_list(settings, db, clock)
    audit = AuditTrail(db, clock, settings.audit_secret)
    verifier = TokenVerifier(settings, revocations)
    # `chat` is bound just below; the lambda looks it up only when a message is delivered.
    delivery = Delivery(
        fetch_after=lambda conversation_id, after: _wire_page(chat, conversation_id, after),
        # ignore_queue: the socket is on this node; never a round trip through Redis.
        send=lambda sid, payload: sio.emit(
            "message_received", payload, to=sid, namespace=NAMESPACE, ignore_queue=True
        ),
    )
    broadcast = create_broadcast(settings, delivery.deliver, keys)
    events = SocketEventSink(sio, broadcast)
    chat = ChatService(
        db,
        keys,
        clock,
        events,
        max_message_length=settings.max_message_length,
        rate_limiter=rate_limiter,
        outbox=outbox,
        batch_max=settings.message_batch_max,  # performance (issue 8): group commit
        batch_window_seconds=settings.message_batch_window_ms / 1000,
    )
    files = build_files(settings, db, storage, chat, clock, events, rate_limiter)
    namespace = ChatNamespace(
        verifier, users, chat, delivery, audit, revocations, presence=presence
    )
    namespace.socket_cap.cap = settings.max_sockets_per_user  # security (issue 16)
    services = Services(
        settings, clock, db, keys, verifier, users, chat, files, audit, revocations, storage
    )
    services.presence = presence
    services.calls = build_calls(settings, db, clock, events)
    namespace.attach_calls(services.calls)
    services.recordings, services.recording_jobs = build_recordings(
        settings, db, storage, clock, events, services.calls, audit
    )
    namespace.attach_recordings(services.recordings)
    node = NodeTasks(
        broadcast,
        delivery,
        presence,
        chat.newest_seqs,
        namespace.announce_presence,
        heartbeat_seconds=settings.presence_ttl_seconds / 3,
        resync_seconds=settings.resync_interval_seconds,
    )
    jobs = JobRuntime(settings, db, storage, clock, presence, outbox, consume=False)
    return services, namespace, Background(node, jobs)


def upload_limits(settings: Settings) -> UploadLimits:
    limits = UploadLimits(
        image=settings.max_image_bytes,
        file=settings.max_file_bytes,
        audio=settings.max_audio_bytes,
        video=settings.max_video_bytes,
    )
    return limits.capped(settings.max_upload_bytes)


def build_files(
    settings: Settings,
    db: Database,
    storage: FileStorage,
    chat: ChatService,
    clock: Clock,
    events: EventSink,
    rate_limiter: RateLimiter | None = None,
) -> FileService:
    """Files (issue 4): storage backend, limits, image policy and malware scanner."""
    scanner = None
    if settings.clamd_url:
        scanner = ClamdScanner(settings.clamd_url, settings.clamd_timeout_seconds)
    return FileService(
        db,
        storage,
        chat,
        clock,
        events,
        link_secret=settings.link_secret,
        link_ttl_seconds=settings.file_link_ttl_seconds,
        limits=upload_limits(settings),
        public_url=settings.public_url,
        image_policy=ImagePolicy(
            settings.max_image_pixels, settings.thumbnail_max_px, settings.image_decodes
        ),
        scanner=scanner,
        redirect_ttl_seconds=(
            settings.s3_presign_ttl_seconds if settings.s3_download_redirect else None
        ),
        rate_limiter=rate_limiter,
    )


def build_calls(
    settings: Settings, db: Database, clock: Clock, sink: SocketEventSink
) -> CallService:
    config = ProviderConfig(
        public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
        jitsi_domain=settings.jitsi_domain,
        jitsi_app_id=settings.jitsi_app_id,
        jitsi_app_secret=settings.jitsi_app_secret,
        jitsi_audience=settings.jitsi_audience,
        agora_app_id=settings.agora_app_id,
        agora_app_certificate=settings.agora_app_certificate,
        token_secret=settings.room_token_secret,
    )
    provider = create_video_provider(settings.video_provider, config)
    return CallService(db, clock, sink, provider, CallPolicy.from_settings(settings))


def build_recordings(
    settings: Settings,
    db: Database,
    storage: FileStorage,
    clock: Clock,
    events: EventSink,
    calls: CallService,
    audit: AuditTrail,
) -> tuple[RecordingService, RecordingAssembler]:
    """Call recording (issue 10): consent, chunk uploads, the assembly job, Jibri uploads.
    Recordings share the file store (and its client) with chat files."""
    links = RecordingLinks(
        settings.link_secret, settings.recording_link_ttl_seconds, settings.public_url
    )
    policy = RecordingPolicy(
        chunk_max_bytes=settings.recording_chunk_max_bytes,
        max_bytes=settings.recording_max_bytes,
        final_chunk_grace=timedelta(seconds=settings.recording_final_chunk_seconds),
        jibri_secret=settings.jibri_secret,
        refuse_dev_jibri_secret=DEV_JIBRI_SECRET,  # in any mode (issue 16)
    )
    recordings = RecordingService(db, clock, events, storage, links, policy, audit)
    calls.on_call_finished = recordings.call_finished
    calls.recording_link = recordings.room_link
    scanner = None
    if settings.clamd_url:
        scanner = ClamdScanner(settings.clamd_url, settings.clamd_timeout_seconds)
    assembler = RecordingAssembler(
        recordings,
        db,
        clock,
        events,
        storage,
        links,
        MediaTools(settings.recording_ffmpeg, settings.recording_ffprobe),
        AssemblyPolicy(
            lease=timedelta(seconds=settings.recording_assembly_lease_seconds),
            poll_seconds=settings.recording_poll_seconds,
            work_dir=settings.data_dir / "recording-work",
        ),
        scanner=scanner,
    )
    return recordings, assembler


async def _wire_page(chat: ChatService, conversation_id: Any, after: int) -> list[dict[str, Any]]:
    return [message.wire() for message in await chat.messages_after(conversation_id, after)]


def allowed_origins(settings: Settings) -> list[str] | str | None:
    """Browser origins allowed to call us, for CORS and Socket.IO alike.

    In production an empty list means same-origin only (None: python-socketio's default; note
    that its `[]` would mean "no checking at all"). Dev without a list allows any origin.
    """
    if settings.cors_origins:
        return list(settings.cors_origins)
    return "*" if settings.mode == "dev" else None


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> ASGIApp:
    settings = settings or Settings()
    origins: Any = allowed_origins(settings)
    manager = None
    if settings.redis_url:
        # Room emits (typing, receipts, presence, calls) reach sockets on every node.
        manager = socketio.AsyncRedisManager(
            settings.redis_url, channel=f"{settings.redis_prefix}:socketio"
        )
    sio = EdgeServer(  # security (issue 16): only documented events reach the handlers
        async_mode="asgi",
        cors_allowed_origins=origins,
        logger=False,
        client_manager=manager,
        max_http_buffer_size=settings.ws_max_message_bytes,
        json=jsoncodec,  # performance (issue 8): orjson for every packet
    )
    clock = clock or Clock()
    services, namespace, background = build_services(settings, sio, clock)
    sio.register_namespace(namespace)
    assert services.calls is not None
    enforcer = MaxDurationEnforcer(services.calls, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        enforcer.start()
        await services.files.start()
        if services.recording_jobs is not None:
            services.recording_jobs.start()
        await background.start()
        try:
            yield
        finally:
            await background.stop()
            if services.recording_jobs is not None:
                await services.recording_jobs.stop()
            await services.files.stop()
            await enforcer.stop()
            await services.db.close()
            metrics.process_stopped()

    api = FastAPI(
        title="medtalk",
        version=__version__,
        description="Chat and video calls between patients and doctors.",
        lifespan=lifespan,
    )
    api.state.services = services
    api.state.sio = sio
    api.state.namespace = namespace
    api.state.ops = build_operations(settings, services)
    api.state.background = background
    install_error_handlers(api)
    api.include_router(chat_routes.router)
    api.include_router(file_routes.router)
    api.include_router(call_routes.router)
    api.include_router(recording_routes.router)
    api.include_router(ops_routes.router)
    # security (issue 9)
    api.include_router(session_routes.router)
    api.include_router(audit_routes.router)
    api.include_router(privacy_routes.router)
    if origins is not None:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=["*"] if origins == "*" else origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,  # bearer tokens, no cookies
            max_age=600,
        )
    install_demo_accounts(api, settings)
    install_web_client(api, frame_ancestors=settings.web_frame_ancestors)

    app = socketio.ASGIApp(sio, other_asgi_app=api, socketio_path="socket.io")
    # security (issue 16): every route's body limit, enforced before any route reads it
    rules = route_rules(
        settings,
        upload_path=UPLOAD_PATH,
        upload_max=upload_limits(settings).largest + MULTIPART_SLACK,
    )
    guarded = BodyLimits(
        app,
        rules,
        default_max=settings.max_request_body_bytes,
        idle_seconds=settings.request_body_idle_seconds,
    )
    secured = SecureHeaders(guarded, hsts_max_age=settings.hsts_max_age)
    return _Telemetry(secured, api)


def build_operations(settings: Settings, services: Services) -> ops_routes.Operations:
    """Readiness checks for every configured dependency, and the scrape-time gauges."""
    readiness = Readiness(settings.readiness_timeout_seconds)
    readiness.register("database", database_check(services.db))
    if settings.redis_url:
        readiness.register("redis", redis_check(settings.redis_url))
    if settings.amqp_url:
        readiness.register("rabbitmq", amqp_check(settings.amqp_url))
    if not settings.storage_url:
        readiness.register("storage", directory_check(settings.data_dir / "files"))
    active = ActiveConversations(
        services.db,
        services.clock,
        settings.active_conversation_window_minutes,
        cache_seconds=15,
    )
    return ops_routes.Operations(readiness, active)


class _Telemetry(RequestTelemetry):
    """The app as served (outermost layer); keeps `app.api` reachable for tests and the CLI."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        super().__init__(app, upload_path=UPLOAD_PATH)
        self.api = api
