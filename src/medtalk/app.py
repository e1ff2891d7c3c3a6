"""create_app(settings): FastAPI (REST, OpenAPI) + Socket.IO, wired once. Start reading here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from medtalk import __version__
from medtalk.api.bodylimit import BodyLimits, route_rules
from medtalk.api.errors import install_error_handlers
from medtalk.api.headers import SecureHeaders
from medtalk.audit import routes as audit_routes
from medtalk.calls import routes as call_routes
from medtalk.calls.events import CallEvents
from medtalk.chat import routes as chat_routes
from medtalk.chat.events import ChatEvents
from medtalk.chat.service import ChatService
from medtalk.container import Container, build_container, upload_limits
from medtalk.core import metrics
from medtalk.core.clock import Clock
from medtalk.fhir import routes as fhir_routes
from medtalk.files import routes as file_routes
from medtalk.legalhold import routes as legal_hold_routes
from medtalk.notifications import routes as notification_routes
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
from medtalk.recordings import routes as recording_routes
from medtalk.recordings.events import RecordingEvents
from medtalk.search import routes as search_routes
from medtalk.sessions import routes as session_routes
from medtalk.settings import Settings
from medtalk.web import install_demo_accounts, install_web_client

logger = logging.getLogger(__name__)

UPLOAD_PATH = "/api/v1/chat/messages/upload"
# Multipart framing around the file; a body larger than the limit plus this is refused unread.
MULTIPART_SLACK = 64 * 1024


class Background:
    """What a `serve` node runs beside requests: fan-out listener, presence, resync, the
    call deadlines and the jobs (relay, file scans, recording assembly, sweeps)."""

    def __init__(self, container: Container, node: NodeTasks) -> None:
        self.container = container
        self.node = node

    async def start(self) -> None:
        self.container.call_deadlines.start()
        await self.node.start()
        await self.container.jobs.start()

    async def stop(self) -> None:
        await self.container.jobs.stop()
        await self.node.stop()
        await self.container.files.stop()
        await self.container.call_deadlines.stop()


def build_realtime(container: Container, sio: EdgeServer) -> tuple[ChatNamespace, Background]:
    """The socket side of a `serve` node, subscribed to the services' events."""
    settings, chat = container.settings, container.chat
    delivery = Delivery(
        fetch_after=lambda conversation_id, after: _wire_page(chat, conversation_id, after),
        # The socket is on this node: never a round trip through Redis.
        send=lambda sid, payload: sio.emit_to_socket(sid, "message_received", payload, NAMESPACE),
    )
    broadcast = create_broadcast(
        settings,
        delivery.deliver,
        container.keys,
        holds=lambda conversation_id: delivery.subscribers(conversation_id) > 0,
    )
    container.events.subscribe(SocketEventSink(sio, broadcast))
    namespace = ChatNamespace(
        container.verifier,
        container.users,
        chat,
        container.audit,
        container.revocations,
        container.presence,
        container.clock,
        sweep_seconds=settings.revocation_sweep_seconds,
    )
    namespace.socket_cap.cap = settings.max_sockets_per_user  # security (issue 16)
    namespace.register(ChatEvents(namespace, chat, delivery, container.presence, container.audit))
    namespace.register(CallEvents(container.calls))
    namespace.register(RecordingEvents(container.recordings))
    node = NodeTasks(
        broadcast,
        delivery,
        container.presence,
        chat.newest_seqs,
        namespace.announce_presence,
        heartbeat_seconds=settings.presence_ttl_seconds / 3,
        resync_seconds=settings.resync_interval_seconds,
    )
    return namespace, Background(container, node)


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
    container = build_container(settings, clock)
    namespace, background = build_realtime(container, sio)
    sio.register_namespace(namespace)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await background.start()
        try:
            yield
        finally:
            await background.stop()
            await container.close()
            metrics.process_stopped()

    api = FastAPI(
        title="medtalk",
        version=__version__,
        description="Chat and video calls between patients and doctors.",
        lifespan=lifespan,
    )
    api.state.container = container
    api.state.sio = sio
    api.state.namespace = namespace
    api.state.ops = build_operations(container)
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
    api.include_router(fhir_routes.router)
    api.include_router(legal_hold_routes.router)
    api.include_router(search_routes.router)
    api.include_router(notification_routes.router)
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
    return _Telemetry(secured, api, websocket_app=app)


def build_operations(container: Container) -> ops_routes.Operations:
    """Readiness checks for every configured dependency, and the scrape-time gauges."""
    settings = container.settings
    readiness = Readiness(settings.readiness_timeout_seconds)
    readiness.register("database", database_check(container.db))
    if settings.redis_url:
        readiness.register("redis", redis_check(settings.redis_url))
    if settings.amqp_url:
        readiness.register("rabbitmq", amqp_check(settings.amqp_url))
    if not settings.storage_url:
        readiness.register("storage", directory_check(settings.data_dir / "files"))
    active = ActiveConversations(
        container.db,
        container.clock,
        settings.active_conversation_window_minutes,
        cache_seconds=15,
    )
    return ops_routes.Operations(readiness, active)


class _Telemetry(RequestTelemetry):
    """The app as served (outermost layer); keeps `app.api` reachable for tests and the CLI."""

    def __init__(self, app: ASGIApp, api: FastAPI, *, websocket_app: ASGIApp) -> None:
        super().__init__(app, upload_path=UPLOAD_PATH, websocket_app=websocket_app)
        self.api = api
