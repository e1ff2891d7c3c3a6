"""Operator commands: serve, worker, migrate, users, token, demo."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import typer

from medtalk.cli import security
from medtalk.cli.common import load_settings, run_with_container
from medtalk.cli.search import search_app
from medtalk.core.auth import Role, mint_token
from medtalk.settings import Settings

app = typer.Typer(
    help="medtalk: chat and video calls for patients and doctors.", no_args_is_help=True
)
users_app = typer.Typer(help="List and add users.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from medtalk.db.migrate import upgrade

    settings = load_settings()
    upgrade(settings)
    typer.echo(f"database is up to date ({_redacted(settings.resolved_database_url)})")


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="seed demo users and print their tokens")] = False,
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="processes serving the one port (needs PostgreSQL and Redis)", min=1),
    ] = None,
    listen_fd: Annotated[int | None, typer.Option(hidden=True)] = None,  # a worker's socket
    demo_accounts: Annotated[bool, typer.Option(hidden=True)] = False,  # a --demo worker
) -> None:
    """Run the service (REST + Socket.IO) on MEDTALK_PORT (8089)."""
    import uvicorn

    from medtalk.app import create_app
    from medtalk.realtime.websocket_protocol import SERVE_OPTIONS

    settings = load_settings()
    # --host/--port are the settings for this run: links and the demo banner use them too.
    listen = {"host": host, "port": port, "workers": workers}
    settings = settings.model_copy(update={k: v for k, v in listen.items() if v is not None})
    if demo and settings.mode != "dev":
        raise typer.BadParameter("--demo is for dev mode only", param_hint="--demo")
    if demo or demo_accounts:
        # The browser's sign-in picker offers the demo accounts (GET /api/v1/dev/demo-accounts).
        settings = settings.model_copy(update={"demo_accounts": True})
    if settings.auto_migrate:
        # Alembic (about 8 MB) stays unimported by a server that does not migrate itself.
        from medtalk.db.migrate import upgrade

        upgrade(settings)
    if demo:
        _print_demo(settings, settings.host, settings.port)
    if settings.workers > 1 and listen_fd is None:
        raise typer.Exit(_supervise_workers(settings, demo))
    application = create_app(settings)
    _tune_collector(settings)
    options: dict[str, Any] = dict(
        log_level=settings.log_level.lower(),
        log_config=None,  # keep configure_logging's JSON handler
        access_log=False,  # medtalk.access logs each request once, by route template
        # security (issue 9): TLS, trusted proxies, WebSocket message limit
        ws_max_size=settings.ws_max_message_bytes,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,  # security (issue 16)
        # performance (issue 8): see bench/README.md for what each of these bought
        ws_per_message_deflate=settings.ws_per_message_deflate,
        **SERVE_OPTIONS,  # memory per idle connection (issue 15)
        **_fast_loop(settings),
    )
    if listen_fd is not None:  # a worker of `serve --workers`, on the socket it was handed
        import socket

        config = uvicorn.Config(application, **options)
        uvicorn.Server(config).run(sockets=[socket.socket(fileno=listen_fd)])
    else:
        uvicorn.run(application, host=settings.host, port=settings.port, **options)


def _supervise_workers(settings: Settings, demo: bool) -> int:
    """Several serving processes on one port (cli/workers.py); returns the exit status."""
    from medtalk.cli.workers import Supervisor, listening_sockets, worker_command

    if settings.is_sqlite or not settings.redis_url:
        raise typer.BadParameter(
            "--workers above 1 needs MEDTALK_DATABASE_URL (PostgreSQL) and MEDTALK_REDIS_URL: "
            "the workers share the database, presence, rate limits and fan-out",
            param_hint="--workers",
        )
    sockets = listening_sockets(settings.host, settings.port, settings.workers)
    typer.echo(f"medtalk: {settings.workers} workers on {settings.host}:{settings.port}")
    command = worker_command(settings.host, settings.port, demo)
    return Supervisor(sockets, command, settings.node_name).run()


def _fast_loop(settings: Settings) -> dict[str, Any]:
    """uvloop and the httptools parser, when configured and installed (uvicorn[standard])."""
    if not settings.fast_event_loop:
        return {}
    import importlib.util

    wanted = {"loop": "uvloop", "http": "httptools"}
    return {key: name for key, name in wanted.items() if importlib.util.find_spec(name)}


def _tune_collector(settings: Settings) -> None:
    """Keep the cyclic garbage collector from pausing the loop for long (bench/README.md).

    Start-up objects (modules, app, settings) never die: frozen, full collections skip them.
    A higher gen-0 threshold makes collections rarer; each young one is still short.
    """
    import gc

    if settings.gc_gen0_threshold:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(settings.gc_gen0_threshold, max(gen1, 20), max(gen2, 100))
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()


@app.command()
def worker() -> None:
    """Run the background jobs: outbox relay, RabbitMQ consumers (MEDTALK_AMQP_URL), archiving."""
    from medtalk.container import build_container
    from medtalk.jobs.worker import run_worker

    settings = load_settings()
    if settings.auto_migrate:
        from medtalk.db.migrate import upgrade

        upgrade(settings)

    async def work() -> None:
        container = build_container(settings, consume_jobs=True)
        try:
            await run_worker(
                container.jobs, queue="rabbitmq" if settings.amqp_url else "in-process"
            )
        finally:
            await container.close()

    asyncio.run(work())


@app.command()
def demo() -> None:
    """Seed the demo doctor, patient and conversation; print their tokens."""
    settings = load_settings()
    _print_demo(settings, settings.host, settings.port)


def _print_demo(settings: Settings, host: str, port: int) -> None:
    from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT, demo_accounts

    accounts = run_with_container(settings, lambda c: demo_accounts(c.settings, c.users, c.chat))
    base = f"http://{host}:{port}"
    typer.echo(
        f"""
medtalk demo (dev only) -- {base}
  doctor : {DEMO_DOCTOR.name} ({DEMO_DOCTOR.user_id})
           token {accounts.doctor_token}
  patient: {DEMO_PATIENT.name} ({DEMO_PATIENT.user_id})
           token {accounts.patient_token}
  conversation {accounts.conversation_id}

  try:  curl -H "Authorization: Bearer {accounts.patient_token[:16]}..." \\
             {base}/api/v1/chat/conversations
  docs: {base}/docs
  web:  {base}/  (pick the doctor in one tab and the patient in another)
"""
    )


@app.command()
def token(
    user_id: Annotated[str, typer.Argument(help="user id (UUID)")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    role: Annotated[Role, typer.Option(help="PATIENT, DOCTOR or ADMIN")] = Role.PATIENT,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 12 * 3600,
) -> None:
    """Mint a dev token signed with MEDTALK_JWT_SECRET."""
    settings = load_settings()
    subject = uuid.UUID(user_id)
    typer.echo(mint_token(settings, subject, name or str(subject), role, ttl_seconds=ttl))


@users_app.command("list")
def users_list(role: Annotated[Role | None, typer.Option()] = None) -> None:
    """List known users."""
    settings = load_settings()
    for user in run_with_container(settings, lambda c: c.users.list(role)):
        typer.echo(f"{user.id}  {user.role.value:8}  {user.name}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    role: Annotated[Role, typer.Option()] = Role.PATIENT,
    user_id: Annotated[str | None, typer.Option("--id", help="UUID; new if omitted")] = None,
) -> None:
    """Add (or rename) a user, e.g. a doctor patients can open conversations with."""
    settings = load_settings()
    subject = uuid.UUID(user_id) if user_id else None
    user = run_with_container(settings, lambda c: c.users.add(name, role, subject))
    typer.echo(f"{user.id}  {user.role.value}  {user.name}")


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}://{'***@' if at else ''}{host}"


def main() -> None:
    app()


# security (issue 9): keys rotate, audit verify/export, retention purge, export --user
security.register(app)
# search (issue 19): rebuild the blind index
app.add_typer(search_app, name="search")

if __name__ == "__main__":
    main()
