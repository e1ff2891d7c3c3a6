"""`assemble_recording`: a stopped recording becomes one stored, scanned, encrypted file.

Written when a recording stops (due after the final-chunk grace) or Jibri's file arrives, in
that transaction. The recording row holds a lease while a node works on it, so a job that
finds it not yet due, or held by a live runner, is deferred to that moment, never run twice
at once. When every attempt failed the recording becomes FAILED (GAVE_UP) and both sides get
`recording_failed`. A sweep stops recordings of calls that ended without them (a crash
between the two) and re-queues recordings whose job was lost.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from medtalk.jobs.registry import JobKind, Payload, Sweep

if TYPE_CHECKING:  # the recordings service writes these jobs: no import cycle at run time
    from medtalk.recordings.assembler import RecordingAssembler
    from medtalk.recordings.service import RecordingService

ASSEMBLE_RECORDING = "assemble_recording"


def payload(recording_id: uuid.UUID) -> Payload:
    return {"recordingId": str(recording_id)}


def kind(assembler: RecordingAssembler) -> JobKind:
    async def run(payload: Payload) -> None:
        await assembler.assemble(uuid.UUID(payload["recordingId"]))

    async def dead(payload: Payload) -> None:
        await assembler.give_up(uuid.UUID(payload["recordingId"]))

    return JobKind(ASSEMBLE_RECORDING, run, portable=False, dead=dead)


def sweep(recordings: RecordingService, every_seconds: float) -> Sweep:
    return Sweep("recording-recovery", recordings.recover, every_seconds)
