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
from medtalk.calls import routes as call_routes
from medtalk.calls.enforcer import MaxDurationEnforcer
from medtalk.calls.providers import ProviderConfig, create_video_provider
from medtalk.calls.service import CallPolicy, CallService
from medtalk.chat import routes as chat_routes
from medtalk.chat.service import ChatService
from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.db.engine import Database, create_engine
from medtalk.files import routes as file_routes
from medtalk.files.service import FileService
from medtalk.files.storage import create_storage
from medtalk.realtime.delivery import Delivery
from medtalk.realtime.events import ChatNamespace
from medtalk.realtime.fanout import NAMESPACE, SocketEventSink
from medtalk.settings import Settings
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


def build_services(
    settings: Settings, sio: socketio.AsyncServer, clock: Clock
) -> tuple[Services, ChatNamespace]:
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    keys = load_keys(settings)
    users = UserDirectory(db, clock)
    verifier = TokenVerifier(settings)
    # `chat` is bound just below; the lambda looks it up only when a message is delivered.
    delivery = Delivery(
        fetch_after=lambda conversation_id, after: _wire_page(chat, conversation_id, after),
        send=lambda sid, payload: sio.emit(
            "message_received", payload, to=sid, namespace=NAMESPACE
        ),
    )
    chat = ChatService(
        db,
        keys,
        clock,
        SocketEventSink(sio, delivery),
        max_message_length=settings.max_message_length,
    )
    files = FileService(
        db,
        create_storage(settings, keys),
        chat,
        clock,
        link_secret=settings.link_secret,
        link_ttl_seconds=settings.file_link_ttl_seconds,
        max_bytes=settings.max_upload_bytes,
        public_url=settings.public_url,
    )
    namespace = ChatNamespace(verifier, users, chat, delivery)
    services = Services(settings, clock, db, keys, verifier, users, chat, files)
    services.calls = build_calls(settings, db, clock, SocketEventSink(sio, delivery))
    namespace.attach_calls(services.calls)
    return services, namespace


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


async def _wire_page(chat: ChatService, conversation_id: Any, after: int) -> list[dict[str, Any]]:
    return [message.wire() for message in await chat.messages_after(conversation_id, after)]


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> ASGIApp:
    settings = settings or Settings()
    origins: Any = settings.cors_origins or ("*" if settings.mode == "dev" else None)
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=origins, logger=False)
    clock = clock or Clock()
    services, namespace = build_services(settings, sio, clock)
    sio.register_namespace(namespace)
    assert services.calls is not None
    enforcer = MaxDurationEnforcer(services.calls, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        enforcer.start()
        yield
        await enforcer.stop()
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
    install_error_handlers(api)
    api.include_router(chat_routes.router)
    api.include_router(file_routes.router)
    api.include_router(call_routes.router)
    install_demo_accounts(api, settings)

    @api.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        try:
            await services.db.ping()
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    install_web_client(api)

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
