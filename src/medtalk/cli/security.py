"""Operator commands for security and privacy: keys, audit, retention, export."""

from __future__ import annotations

import csv
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from medtalk.cli.common import load_settings, run_with_container
from medtalk.container import Container

keys_app = typer.Typer(help="Encryption keys at rest.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of closed and archived conversations.")


# --- keys -------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="rows per transaction")] = 500,
) -> None:
    """Re-encrypt messages, files and conversation archives under the newest key of
    MEDTALK_ENCRYPTION_KEYS.

    Resumable: rows already under the newest key are skipped and a checkpoint records the last
    batch. Fails (exit 1) while rows remain under keys no longer in the ring.
    """
    from rich.progress import Progress

    from medtalk.cli.search import echo_report, rebuild_with_progress
    from medtalk.privacy.rotation import KeyRotation, pending
    from medtalk.search.index import RebuildReport

    settings = load_settings()

    rebuilt: list[RebuildReport] = []

    async def rotate(rt: Container) -> Any:
        total = await pending(rt.db, rt.keys)
        with Progress(transient=False) as progress:
            task = progress.add_task(f"re-encrypting under {rt.keys.current_id}", total=total)
            report = await KeyRotation(
                rt.db, rt.keys, rt.storage, rt.clock, batch_size=batch_size
            ).run(lambda n: progress.advance(task, n))
        rebuilt.append(await rebuild_with_progress(rt))  # the blind index follows the key
        await rt.audit.record(
            "keys.rotate",
            role="OPERATOR",
            object_type="key",
            object_id=rt.keys.current_id,
            detail=f"{report.messages_rotated} messages, {report.files_rotated} files, "
            f"{report.archives_rotated} archives",
        )
        return report

    report = run_with_container(settings, rotate)
    typer.echo(
        f"{report.messages_rotated} messages and {report.files_rotated} files now under key "
        f"{report.current_key}"
    )
    typer.echo(f"{report.archives_rotated} conversation archives rewritten under the same key")
    echo_report(rebuilt[0])
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


@keys_app.command("vapid")
def keys_vapid(
    force: Annotated[bool, typer.Option(help="replace a stored key (subscriptions break)")] = False,
) -> None:
    """Make the Web Push (VAPID) key pair and store it under the data dir (docs/notifications.md).

    Prints MEDTALK_VAPID_PRIVATE_KEY for a secret store, and the public key browsers get.
    Refuses to replace a stored key without --force: every browser subscribed with the old one
    would have to subscribe again.
    """
    from medtalk.notifications.vapid import KEY_FILE, VapidKeys

    settings = load_settings()
    path = settings.data_dir / KEY_FILE
    if path.exists() and not force:
        typer.echo(f"{path} exists; --force replaces it (browsers must subscribe again)", err=True)
        raise typer.Exit(1)
    keys = VapidKeys.generate()
    keys.save(settings.data_dir)
    typer.echo(f"stored {path}")
    typer.echo(f"MEDTALK_VAPID_PRIVATE_KEY={keys.private_key}")
    typer.echo(f"public key (applicationServerKey): {keys.public_key}")


# --- audit ------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the HMAC chain; says which row breaks it (exit 1) if one was edited or deleted."""
    settings = load_settings()
    result = run_with_container(settings, lambda rt: rt.audit.verify())
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

    settings = load_settings()
    filters: dict[str, Any] = {}
    try:
        if since:
            filters["since"] = parse_iso(since)
        if user:
            filters["user_id"] = uuid.UUID(user)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout

    async def write(rt: Container) -> int:
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
        count = run_with_container(settings, write)
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
    from medtalk.search.index import SearchIndex

    settings = load_settings()

    async def purge(rt: Container) -> tuple[Any, int]:
        report = await purge_expired(
            rt.db,
            rt.storage,
            SearchIndex(rt.keys),
            rt.clock,
            rt.audit,
            retention_days(settings),
            dry_run=dry_run,
        )
        forgotten = 0
        if not dry_run:  # revocations of tokens that have expired anyway
            forgotten = await rt.revocations.purge_expired()
        return report, forgotten

    report, forgotten = run_with_container(settings, purge)
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb} {report.messages} messages, {report.files} files and {report.archives} archives "
        f"of {len(report.conversations)} conversations; "
        f"kept {len(report.held)} expired conversations under legal hold; "
        f"forgot {forgotten} expired token revocations"
    )
    if report.unindexed:
        typer.echo(
            f"{report.unindexed} purged messages could not be read (tampered, or under a key no "
            "longer in MEDTALK_ENCRYPTION_KEYS): their search terms could not be found and stay",
            err=True,
        )


# --- export -----------------------------------------------------------------------------------


def export_user(
    output: Annotated[Path, typer.Option(help="file to write")],
    user: Annotated[str | None, typer.Option(help="user id (UUID) whose data to export")] = None,
    fhir: Annotated[
        str | None, typer.Option(help="conversation id (UUID): write it as a FHIR R4 Bundle")
    ] = None,
) -> None:
    """A user's conversations, messages and files as a zip (access requests, --user), or one
    conversation as a FHIR R4 Bundle in JSON (--fhir)."""
    settings = load_settings()
    if (user is None) == (fhir is None):
        raise typer.BadParameter("give exactly one of --user and --fhir")
    try:
        subject = uuid.UUID(user or fhir or "")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if fhir is not None:
        from medtalk.fhir.cli import write_bundle
        from medtalk.fhir.service import FhirExport

        size = run_with_container(
            settings,
            lambda rt: write_bundle(
                FhirExport(rt.db, rt.chat, rt.clock, rt.audit), settings.public_url, subject, output
            ),
        )
        typer.echo(f"wrote {size} bytes to {output}")
        return

    async def write(rt: Container) -> int:
        size = 0
        with output.open("wb") as out:
            async for piece in await rt.export.for_operator(subject):
                out.write(piece)
                size += len(piece)
        return size

    size = run_with_container(settings, write)
    typer.echo(f"wrote {size} bytes to {output}")


def register(app: typer.Typer) -> None:
    """Mount the commands on the main CLI."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
    app.command("export")(export_user)
