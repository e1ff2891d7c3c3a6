"""Operator commands for security and privacy: keys, audit, retention, export (see cli.py)."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer

from medtalk.settings import Settings

T = TypeVar("T")

keys_app = typer.Typer(help="Encryption keys at rest.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of closed and archived conversations.")


@dataclass
class Runtime:
    """What the operator commands need, built like the server builds it (no sockets)."""

    settings: Settings
    db: Any
    keys: Any
    storage: Any
    clock: Any
    audit: Any
    chat: Any
    files: Any


@asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    from medtalk.app import build_files, load_keys
    from medtalk.audit import AuditTrail
    from medtalk.chat.service import ChatService
    from medtalk.core.clock import Clock
    from medtalk.core.events import RecordingSink
    from medtalk.db.engine import Database, create_engine
    from medtalk.db.migrate import upgrade
    from medtalk.files.storage import create_storage
    from medtalk.jobs.outbox import JobOutbox

    await asyncio.to_thread(upgrade, settings)
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    keys = load_keys(settings)
    clock = Clock()
    storage = create_storage(settings, keys)
    chat = ChatService(
        db, keys, clock, RecordingSink(), max_message_length=settings.max_message_length
    )
    files = build_files(settings, db, storage, chat, clock, RecordingSink(), JobOutbox(clock))
    audit = AuditTrail(db, clock, settings.audit_secret)
    try:
        yield Runtime(settings, db, keys, storage, clock, audit, chat, files)
    finally:
        await db.close()


def _run(settings: Settings, action: Callable[[Runtime], Awaitable[T]]) -> T:
    async def main() -> T:
        async with runtime(settings) as rt:
            return await action(rt)

    return asyncio.run(main())


# --- keys -------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="rows per transaction")] = 500,
) -> None:
    """Re-encrypt messages and files under the newest key of MEDTALK_ENCRYPTION_KEYS.

    Resumable: rows already under the newest key are skipped and a checkpoint records the last
    batch. Fails (exit 1) while rows remain under keys no longer in the ring.
    """
    from rich.progress import Progress

    from medtalk.privacy.rotation import KeyRotation, pending

    settings = _settings()

    async def rotate(rt: Runtime) -> Any:
        messages, files = await pending(rt.db, rt.keys)
        with Progress(transient=False) as progress:
            task = progress.add_task(
                f"re-encrypting under {rt.keys.current_id}", total=messages + files
            )
            report = await KeyRotation(
                rt.db, rt.keys, rt.storage, rt.clock, batch_size=batch_size
            ).run(lambda n: progress.advance(task, n))
        await rt.audit.record(
            "keys.rotate",
            role="OPERATOR",
            object_type="key",
            object_id=rt.keys.current_id,
            detail=f"{report.messages_rotated} messages, {report.files_rotated} files",
        )
        return report

    report = _run(settings, rotate)
    typer.echo(
        f"{report.messages_rotated} messages and {report.files_rotated} files now under key "
        f"{report.current_key}"
    )
    if report.unreadable:
        typer.echo(
            f"{report.unreadable} rows fail authentication (tampered?) and were left", err=True
        )
    if report.missing_keys:
        detail = ", ".join(f"{key}: {count}" for key, count in sorted(report.missing_keys.items()))
        typer.echo(
            f"refusing to finish: {sum(report.missing_keys.values())} rows remain under keys "
            f"not in the ring ({detail}); add those keys to MEDTALK_ENCRYPTION_KEYS and rerun",
            err=True,
        )
    if not report.complete:
        raise typer.Exit(1)


# --- audit ------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the HMAC chain; says which row breaks it (exit 1) if one was edited or deleted."""
    settings = _settings()
    result = _run(settings, lambda rt: rt.audit.verify())
    if result.ok:
        typer.echo(f"audit chain intact: {result.checked} rows verified")
        return
    typer.echo(
        f"audit chain BROKEN at row {result.broken_at}: {result.reason} "
        f"({result.checked} rows before it verified)",
        err=True,
    )
    raise typer.Exit(1)


EXPORT_FIELDS = [
    "seq", "at", "userId", "role", "action", "objectType", "objectId", "conversationId",
    "clientIp", "userAgent", "outcome", "detail", "hash",
]  # fmt: skip


@audit_app.command("export")
def audit_export(
    format: Annotated[Literal["csv", "jsonl"], typer.Option(help="csv or jsonl")] = "jsonl",
    since: Annotated[str | None, typer.Option(help="ISO-8601; rows at or after it")] = None,
    user: Annotated[str | None, typer.Option(help="only rows of this user id")] = None,
    output: Annotated[Path | None, typer.Option(help="file to write; stdout if omitted")] = None,
) -> None:
    """Write audit rows (oldest first) as CSV or JSON lines."""
    from medtalk.core.clock import parse_iso

    settings = _settings()
    filters: dict[str, Any] = {}
    try:
        if since:
            filters["since"] = parse_iso(since)
        if user:
            filters["user_id"] = uuid.UUID(user)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout

    async def write(rt: Runtime) -> int:
        count = 0
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS) if format == "csv" else None
        if writer is not None:
            writer.writeheader()
        async for record in rt.audit.iterate(**filters):
            row = record.wire()
            if writer is not None:
                writer.writerow(row)
            else:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count

    try:
        count = _run(settings, write)
    finally:
        if output:
            out.close()
    if output:
        typer.echo(f"{count} audit rows written to {output}")


# --- retention --------------------------------------------------------------------------------


@retention_app.command("purge")
def retention_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, delete nothing")] = False,
) -> None:
    """Delete messages and files of conversations past MEDTALK_RETENTION_*_DAYS."""
    from medtalk.privacy.retention import purge_expired, retention_days
    from medtalk.sessions import create_revocation_list

    settings = _settings()

    async def purge(rt: Runtime) -> tuple[Any, int]:
        report = await purge_expired(
            rt.db, rt.storage, rt.clock, rt.audit, retention_days(settings), dry_run=dry_run
        )
        forgotten = 0
        if not dry_run:  # revocations of tokens that have expired anyway
            forgotten = await create_revocation_list(settings, rt.db, rt.clock).purge_expired()
        return report, forgotten

    report, forgotten = _run(settings, purge)
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb} {report.messages} messages and {report.files} files "
        f"of {len(report.conversations)} conversations; "
        f"forgot {forgotten} expired token revocations"
    )


# --- export -----------------------------------------------------------------------------------


def export_user(
    user: Annotated[str, typer.Option(help="user id (UUID) whose data to export")],
    output: Annotated[Path, typer.Option(help="zip file to write")],
) -> None:
    """A user's conversations, messages and files as a zip (access requests)."""
    from medtalk.privacy.export import DataExport

    settings = _settings()
    try:
        user_id = uuid.UUID(user)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    async def write(rt: Runtime) -> int:
        size = 0
        export = DataExport(rt.db, rt.chat, rt.files, rt.clock, rt.storage)
        with output.open("wb") as out:
            async for piece in export.zip_stream(user_id):
                out.write(piece)
                size += len(piece)
        await rt.audit.record(
            "export.patient", role="OPERATOR", object_type="user", object_id=user_id, detail="cli"
        )
        return size

    size = _run(settings, write)
    typer.echo(f"wrote {size} bytes to {output}")


def _settings() -> Settings:
    from medtalk.cli import _settings as configured

    return configured()


def register(app: typer.Typer) -> None:
    """Mount the commands on the main CLI."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
    app.command("export")(export_user)
