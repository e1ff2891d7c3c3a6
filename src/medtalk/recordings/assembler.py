"""The assembly work: a stopped recording becomes one stored, scanned, encrypted file.

Run by the `assemble_recording` job (jobs/kinds/assemble_recording.py). State lives only in
the database and the file store: a recording is claimed with a lease (renewed while it is
worked on), so several nodes never assemble the same recording at the same time; a job that
finds it not yet due or held is deferred (`Deferred`) to the moment it may be claimed, and
after a crash or restart the job runs again and takes over once the lease has run out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from medtalk.calls import rooms
from medtalk.core.clock import Clock
from medtalk.core.events import EventSink
from medtalk.core.streams import Measured
from medtalk.core.tasks import cancel_and_wait
from medtalk.db.engine import Database
from medtalk.files.scanning import ClamdScanner
from medtalk.files.storage import FileStorage
from medtalk.jobs.registry import Deferred
from medtalk.recordings import store
from medtalk.recordings.links import RecordingLinks
from medtalk.recordings.media import MediaError, MediaTools, container_of
from medtalk.recordings.store import ChunkRow, RecordingRow

logger = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
WAITING = ("STOPPED", "ASSEMBLING")


class _Failed(Exception):
    """Assembly cannot succeed, ever (no media, not media, infected)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AssemblyPolicy:
    lease: timedelta
    work_dir: Path


class RecordingAssembler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        storage: FileStorage,
        links: RecordingLinks,
        media: MediaTools,
        policy: AssemblyPolicy,
        scanner: ClamdScanner | None = None,
    ) -> None:
        self._clock = clock
        self._db = db
        self._events = events
        self._storage = storage
        self._links = links
        self._media = media
        self._policy = policy
        self._scanner = scanner

    async def assemble(self, recording_id: uuid.UUID) -> None:
        """Assemble one recording (the job's handler). Returns when it is READY or FAILED, or
        needs no assembly (yet: Jibri's file writes a new job); raises Deferred when it is not
        due or another runner holds it; any other exception: the job is retried."""
        now = self._clock.now()
        async with self._db.transaction() as db:
            found = await store.get_recording(db, recording_id)
            if found is None or found.status not in WAITING or found.next_attempt_at is None:
                return
            if found.next_attempt_at > now:
                raise Deferred("recording not due or held", until=found.next_attempt_at)
            if not await store.claim(db, recording_id, now, now + self._policy.lease):
                raise Deferred("another runner claimed the recording")
            recording = await store.get_recording(db, recording_id)
        assert recording is not None
        work = self._policy.work_dir / recording.id.hex
        heartbeat = asyncio.create_task(self._renew_lease(recording.id))
        try:
            await self._assemble(recording, work)
        except _Failed as failure:
            await self._fail(recording, failure.reason)
        except MediaError as error:
            logger.warning("recording %s: %s", recording.id, error)
            await self._fail(recording, "MEDIA_INVALID")
        except Exception:
            logger.exception("recording %s: assembly failed; will retry", recording.id)
            await self._release(recording)
            raise
        finally:
            await cancel_and_wait(heartbeat)
            # Plaintext media never outlives the attempt (nor a cancelled one).
            shutil.rmtree(work, ignore_errors=True)

    async def _assemble(self, recording: RecordingRow, work: Path) -> None:
        async with self._db.read() as db:
            chunks = await store.chunks(db, recording.id)
        if not chunks:
            raise _Failed("NO_MEDIA")
        await asyncio.to_thread(_private_dir, work)
        segments = await self._write_segments(chunks, work)
        with segments[0].open("rb") as start:
            container = container_of(start.read(16))
        if container is None:
            raise _Failed("NOT_MEDIA")
        target = work / f"recording.{container.extension}"
        if await self._media.remux(segments, target, container):
            final = target
        else:
            final = await asyncio.to_thread(_concatenate, segments, work / "concatenated")
        duration = await self._media.duration(final)
        if duration is None and recording.started_at and recording.stopped_at:
            duration = (recording.stopped_at - recording.started_at).total_seconds()
        if self._scanner is not None:
            signature = await self._scanner.scan(_read(final))
            if signature:
                logger.warning("recording %s quarantined: signature %s", recording.id, signature)
                raise _Failed("INFECTED")
        await self._store(recording, final, container.mime_type, duration)

    async def _write_segments(self, chunks: list[ChunkRow], work: Path) -> list[Path]:
        """Decrypt the chunks in index order into segment files: a chunk that starts with a
        container header (a recorder that restarted after a reload) begins a new segment."""
        segments: list[Path] = []
        out = None
        try:
            for chunk in chunks:
                first = True
                async for piece in self._storage.read(chunk.storage_key, chunk.key_id):
                    if first and (out is None or container_of(piece[:16]) is not None):
                        if out is not None:
                            out.close()
                        segments.append(work / f"segment-{len(segments):04d}")
                        out = segments[-1].open("wb")
                    first = False
                    assert out is not None
                    out.write(piece)
        finally:
            if out is not None:
                out.close()
        return segments

    async def _store(
        self, recording: RecordingRow, path: Path, mime_type: str, duration: float | None
    ) -> None:
        key = secrets.token_hex(20)
        measured = Measured(_read(path))
        key_id = await self._storage.put(key, measured.stream())
        size = measured.size
        now = self._clock.now()
        async with self._db.transaction() as db:
            done = await store.update_recording(
                db,
                recording.id,
                expected=("ASSEMBLING",),
                status="READY",
                storage_key=key,
                key_id=key_id,
                mime_type=mime_type,
                size=size,
                sha256=measured.sha256,
                duration_seconds=duration,
                ready_at=now,
                next_attempt_at=None,
            )
            chunks = await store.chunks(db, recording.id) if done else []
            if done:
                await store.delete_chunks(db, recording.id)
                url = self._links.stable(recording.room_id, recording.id)
                await rooms.set_recording_url(db, recording.room_id, url)
        if not done:
            await self._storage.delete(key)
            return
        for chunk in chunks:
            await self._storage.delete(chunk.storage_key)
        await self._announce(
            recording,
            "recording_ready",
            {
                "url": self._links.signed(recording.room_id, recording.id),
                "durationSeconds": duration,
                "size": size,
            },
        )

    async def _renew_lease(self, recording_id: uuid.UUID) -> None:
        interval = max(0.5, self._policy.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            async with self._db.transaction() as db:
                await store.update_recording(
                    db,
                    recording_id,
                    expected=("ASSEMBLING",),
                    next_attempt_at=self._clock.now() + self._policy.lease,
                )

    async def _fail(
        self, recording: RecordingRow, reason: str, expected: tuple[str, ...] = ("ASSEMBLING",)
    ) -> None:
        async with self._db.transaction() as db:
            failed = await store.update_recording(
                db,
                recording.id,
                expected=expected,
                status="FAILED",
                failure=reason,
                next_attempt_at=None,
            )
        if failed:
            await self._announce(recording, "recording_failed", {"reason": reason})

    async def _release(self, recording: RecordingRow) -> None:
        """A dependency failed (storage, scanner): let the job's retry claim it at once."""
        async with self._db.transaction() as db:
            await store.update_recording(
                db, recording.id, expected=("ASSEMBLING",), next_attempt_at=self._clock.now()
            )

    async def give_up(self, recording_id: uuid.UUID) -> None:
        """Every attempt failed (the job is dead-lettered): FAILED, and both sides are told."""
        async with self._db.read() as db:
            recording = await store.get_recording(db, recording_id)
        if recording is not None and recording.status in WAITING:
            await self._fail(recording, "GAVE_UP", expected=WAITING)

    async def _announce(self, recording: RecordingRow, event: str, extra: dict[str, Any]) -> None:
        async with self._db.read() as db:
            room = await rooms.room(db, recording.room_id)
        if room is None:
            return
        payload = {"roomId": str(room.id), "recordingId": str(recording.id), **extra}
        for user_id in (room.host_id, room.guest_id):
            try:
                await self._events.to_user(user_id, event, payload)
            except Exception:
                logger.exception("could not announce %s", event)


def _concatenate(segments: list[Path], target: Path) -> Path:
    if len(segments) == 1:
        return segments[0]
    with target.open("wb") as out:
        for segment in segments:
            with segment.open("rb") as source:
                shutil.copyfileobj(source, out, READ_CHUNK)
    return target


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while piece := await asyncio.to_thread(source.read, READ_CHUNK):
            yield piece
