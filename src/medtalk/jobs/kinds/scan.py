"""`scan_file`: stream one PENDING upload to clamd, record CLEAN or INFECTED, announce it.

Written with the file's row and message, in their transaction, so a scan pending at shutdown
or crash runs after the restart. Runs on `serve` nodes (it announces `file_status` to the
conversation's sockets). If clamd stays unreachable through every attempt the job is
dead-lettered and the file stays PENDING (never served).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from medtalk.jobs.registry import JobKind, Payload

logger = logging.getLogger(__name__)

SCAN_FILE = "scan_file"


def payload(file_id: uuid.UUID) -> Payload:
    return {"fileId": str(file_id)}


def kind(scan: Callable[[uuid.UUID], Awaitable[None]]) -> JobKind:
    async def run(payload: Payload) -> None:
        await scan(uuid.UUID(payload["fileId"]))

    async def dead(payload: Payload) -> None:
        logger.error("file %s: scan gave up; the file stays PENDING", payload["fileId"])

    return JobKind(SCAN_FILE, run, portable=False, dead=dead)
