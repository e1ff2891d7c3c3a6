"""`medtalk export --fhir <conversation id> --output bundle.json` (see cli/security.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from medtalk.core.errors import NotFound
from medtalk.fhir.service import FhirExport

if TYPE_CHECKING:
    from medtalk.container import Container


async def write_bundle(rt: Container, conversation_id: uuid.UUID, output: Path) -> int:
    """Write the Bundle, audit it as the operator's; returns the bytes written."""
    export = FhirExport(rt.db, rt.chat, rt.clock)
    try:
        bundle = await export.bundle(None, conversation_id, rt.settings.public_url)
    except NotFound:
        typer.echo(f"no conversation {conversation_id}", err=True)
        raise typer.Exit(1) from None
    data = json.dumps(bundle, ensure_ascii=False, indent=2).encode()
    await asyncio.to_thread(output.write_bytes, data)
    await rt.audit.record(
        "conversation.fhir_export",
        role="OPERATOR",
        object_type="conversation",
        object_id=conversation_id,
        conversation_id=conversation_id,
        detail="cli",
    )
    return len(data)
