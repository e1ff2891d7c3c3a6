"""`medtalk export --fhir <conversation id> --output bundle.json` (see cli/security.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import typer

from medtalk.core.errors import NotFound
from medtalk.fhir.service import FhirExport


async def write_bundle(
    export: FhirExport, public_url: str, conversation_id: uuid.UUID, output: Path
) -> int:
    """Write the Bundle (the service audits it as the operator's); returns the bytes written."""
    try:
        bundle = await export.bundle(None, conversation_id, public_url)
    except NotFound:
        typer.echo(f"no conversation {conversation_id}", err=True)
        raise typer.Exit(1) from None
    data = json.dumps(bundle, ensure_ascii=False, indent=2).encode()
    await asyncio.to_thread(output.write_bytes, data)
    return len(data)
