"""create_app(settings): FastAPI (REST, OpenAPI) + Socket.IO, wired once. Start reading here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from medtalk import __version__
from medtalk.api.errors import error_body, install_error_handlers
from medtalk.api.services import Services
from medtalk.chat import routes as chat_routes
from medtalk.chat.service import ChatService
from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.core.ratelimit import create_rate_limiter
from medtalk.db.engine import Database, create_engine
from medtalk.files import routes as file_routes
from medtalk.files.service import FileService
from medtalk.files.storage import create_storage
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.runtime import JobRuntime
from medtalk.realtime.broadcast import create_broadcast
from medtalk.realtime.delivery import Delivery
from medtalk.realtime.events import ChatNamespace
from medtalk.realtime.fanout import NAMESPACE, SocketEventSink
from medtalk.realtime.node import NodeTasks
from medtalk.realtime.presence import create_presence
from medtalk.settings import Settings
from medtalk.users.service import UserDirectory

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
    verifier = TokenVerifier(settings)
    # `chat` is bound just below; the lambda looks it up only when a message is delivered.
    delivery = Delivery(
        fetch_after=lambda conversation_id, after: _wire_page(chat, conversation_id, after),
        # ignore_queue: the socket is on this node; never a round trip through Redis.
        send=lambda sid, payload: sio.emit(
            "message_received", payload, to=sid, namespace=NAMESPACE, ignore_queue=True
        ),
    )
    broadcast = create_broadcast(settings, delivery.deliver)
    chat = ChatService(
        db,
        keys,
        clock,
        SocketEventSink(sio, broadcast),
        max_message_length=settings.max_message_length,
        rate_limiter=rate_limiter,
        outbox=outbox,
    )
    files = FileService(
        db,
        storage,
        chat,
        clock,
        link_secret=settings.link_secret,
        link_ttl_seconds=settings.file_link_ttl_seconds,
        max_bytes=settings.max_upload_bytes,
        public_url=settings.public_url,
        rate_limiter=rate_limiter,
    )
    namespace = ChatNamespace(verifier, users, chat, delivery, presence)
    services = Services(settings, clock, db, keys, verifier, users, chat, files, presence)
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


async def _wire_page(chat: ChatService, conversation_id: Any, after: int) -> list[dict[str, Any]]:
    return [message.wire() for message in await chat.messages_after(conversation_id, after)]


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> ASGIApp:
    settings = settings or Settings()
    origins: Any = settings.cors_origins or ("*" if settings.mode == "dev" else None)
    manager = None
    if settings.redis_url:
        # Room emits (typing, receipts, presence, calls) reach sockets on every node.
        manager = socketio.AsyncRedisManager(
            settings.redis_url, channel=f"{settings.redis_prefix}:socketio"
        )
    sio = socketio.AsyncServer(
        async_mode="asgi", cors_allowed_origins=origins, logger=False, client_manager=manager
    )
    services, namespace, background = build_services(settings, sio, clock or Clock())
    sio.register_namespace(namespace)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await background.start()
        try:
            yield
        finally:
            await background.stop()
            await services.db.close()

    api = FastAPI(
        title="medtalk",
        version=__version__,
        description="Chat and video calls between patients and doctors.",
        lifespan=lifespan,
    )
    api.state.services = services
    api.state.sio = sio
    api.state.namespace = namespace
    api.state.background = background
    install_error_handlers(api)
    api.include_router(chat_routes.router)
    api.include_router(file_routes.router)

    @api.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "node": settings.node_name}

    @api.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        try:
            await services.db.ping()
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    app = socketio.ASGIApp(sio, other_asgi_app=api, socketio_path="socket.io")
    return _UploadSizeGuard(app, settings.max_upload_bytes + MULTIPART_SLACK, api)


class _UploadSizeGuard:
    """Refuse an oversized upload by its Content-Length before a byte of it is read."""

    def __init__(self, app: ASGIApp, max_body: int, api: FastAPI) -> None:
        self.app = app
        self.api = api  # reachable for tests and the CLI (app.api.state.services)
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == UPLOAD_PATH:
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > self._max_body:
                body = error_body("TOO_LARGE", f"uploads are limited to {self._max_body} bytes")
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)
