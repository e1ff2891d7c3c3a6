"""Operator commands: serve, worker, migrate, users, token, demo."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated

import typer

from medtalk.core.auth import Role, mint_token
from medtalk.settings import Settings

app = typer.Typer(
    help="medtalk: chat and video calls for patients and doctors.", no_args_is_help=True
)
users_app = typer.Typer(help="List and add users.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return settings


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from medtalk.db.migrate import upgrade

    settings = _settings()
    upgrade(settings)
    typer.echo(f"database is up to date ({_redacted(settings.resolved_database_url)})")


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="seed demo users and print their tokens")] = False,
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
) -> None:
    """Run the service (REST + Socket.IO) on MEDTALK_PORT (8089)."""
    import uvicorn

    from medtalk.app import create_app, load_keys
    from medtalk.db.migrate import upgrade

    settings = _settings()
    if settings.auto_migrate:
        upgrade(settings)
    if demo:
        _print_demo(settings, load_keys(settings), host or settings.host, port or settings.port)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        ws_max_size=1024 * 1024,
    )


@app.command()
def worker() -> None:
    """Run the background jobs: outbox relay, RabbitMQ consumers (MEDTALK_AMQP_URL), archiving."""
    from medtalk.jobs.worker import run_worker

    settings = _settings()
    if settings.auto_migrate:
        from medtalk.db.migrate import upgrade

        upgrade(settings)
    asyncio.run(run_worker(settings))


@app.command()
def demo() -> None:
    """Seed the demo doctor, patient and conversation; print their tokens."""
    from medtalk.app import load_keys
    from medtalk.db.migrate import upgrade

    settings = _settings()
    upgrade(settings)
    _print_demo(settings, load_keys(settings), settings.host, settings.port)


def _print_demo(settings: Settings, keys: object, host: str, port: int) -> None:
    from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT, seed_demo

    accounts = asyncio.run(seed_demo(settings, keys))  # type: ignore[arg-type]
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
    settings = _settings()
    subject = uuid.UUID(user_id)
    typer.echo(mint_token(settings, subject, name or str(subject), role, ttl_seconds=ttl))


@users_app.command("list")
def users_list(role: Annotated[Role | None, typer.Option()] = None) -> None:
    """List known users."""
    settings = _settings()
    for user in asyncio.run(_with_directory(settings, lambda d: d.list(role))):
        typer.echo(f"{user.id}  {user.role.value:8}  {user.name}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    role: Annotated[Role, typer.Option()] = Role.PATIENT,
    user_id: Annotated[str | None, typer.Option("--id", help="UUID; new if omitted")] = None,
) -> None:
    """Add (or rename) a user, e.g. a doctor patients can open conversations with."""
    settings = _settings()
    subject = uuid.UUID(user_id) if user_id else None
    user = asyncio.run(_with_directory(settings, lambda d: d.add(name, role, subject)))
    typer.echo(f"{user.id}  {user.role.value}  {user.name}")


async def _with_directory(settings, action):  # type: ignore[no-untyped-def]
    from medtalk.core.clock import Clock
    from medtalk.db.engine import Database, create_engine
    from medtalk.db.migrate import upgrade
    from medtalk.users.service import UserDirectory

    await asyncio.to_thread(upgrade, settings)
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    try:
        return await action(UserDirectory(db, Clock()))
    finally:
        await db.close()


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}://{'***@' if at else ''}{host}"


def main() -> None:
    app()
