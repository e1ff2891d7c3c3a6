"""A user's data export (access requests): their conversations, messages and files as a zip.

The zip is produced while it is sent (zipfile writes to an unseekable sink that the generator
drains after each piece), so neither the archive nor decrypted files ever touch the disk.
Each export is audited here (`export.patient`), as the patient's or as the operator's.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa

from medtalk.audit import AuditTrail, RequestContext
from medtalk.chat import store
from medtalk.chat.service import ChatService
from medtalk.core.auth import Role
from medtalk.core.clock import Clock, iso_z
from medtalk.core.errors import Forbidden
from medtalk.db.engine import Database
from medtalk.db.tables import call_recordings, video_call_rooms
from medtalk.files.downloads import FileDownloads
from medtalk.files.storage import FileStorage

PAGE = 200
README = """medtalk data export

conversations.json                      your conversations (parties, status, dates)
conversations/<id>/messages.jsonl       every message, oldest first, one JSON object a line
conversations/<id>/files/<fileId>-<name> the files shared in the conversation
conversations/<id>/recordings/<id>.webm  recorded video consultations (recorded with consent)
"""


class _Sink(io.RawIOBase):
    """Collects what zipfile writes; not seekable, so zipfile streams (data descriptors)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class DataExport:
    def __init__(
        self,
        db: Database,
        chat: ChatService,
        files: FileDownloads,
        clock: Clock,
        audit: AuditTrail,
        storage: FileStorage | None = None,
    ) -> None:
        self._db = db
        self._chat = chat
        self._files = files
        self._clock = clock
        self._audit = audit
        self._storage = storage  # for call recordings (stored beside chat files)

    async def of_patient(self, context: RequestContext) -> AsyncIterator[bytes]:
        """The calling patient's own export (Forbidden for other roles); audited."""
        if context.actor.role is not Role.PATIENT:
            raise Forbidden("the export is for patients' own data")
        await self._audited(context, context.actor.user_id)
        return self.zip_stream(context.actor.user_id)

    async def for_operator(self, user_id: uuid.UUID) -> AsyncIterator[bytes]:
        """A user's export for an operator (an access request made to the clinic); audited."""
        await self._audited(None, user_id)
        return self.zip_stream(user_id)

    async def _audited(self, context: RequestContext | None, user_id: uuid.UUID) -> None:
        await self._audit.record(
            "export.patient",
            actor=context.actor if context else None,
            role=None if context else "OPERATOR",
            client=context.client if context else None,
            object_type="user",
            object_id=user_id,
        )

    async def conversations_of(self, user_id: uuid.UUID) -> list[store.ConversationRow]:
        found: list[store.ConversationRow] = []
        async with self._db.read() as db:
            while True:
                _total, rows = await store.list_conversations(db, user_id, None, len(found), PAGE)
                found += rows
                if len(rows) < PAGE:
                    return found

    async def zip_stream(self, user_id: uuid.UUID) -> AsyncIterator[bytes]:
        conversations = await self.conversations_of(user_id)
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("README.txt", README)
            summary = [await self._summary(row) for row in conversations]
            archive.writestr(
                "conversations.json",
                json.dumps(
                    {
                        "userId": str(user_id),
                        "exportedAt": iso_z(self._clock.now()),
                        "conversations": summary,
                    },
                    ensure_ascii=False,
                    indent=2,
                ),
            )
            yield sink.take()
            for row in conversations:
                async for piece in self._conversation(archive, sink, row):
                    yield piece
        yield sink.take()

    async def _summary(self, row: store.ConversationRow) -> dict[str, Any]:
        async with self._db.read() as db:
            names = await store.user_names(db, {row.patient_id, row.doctor_id})
        return {
            "id": str(row.id),
            "patientId": str(row.patient_id),
            "patientName": names.get(row.patient_id, ""),
            "doctorId": str(row.doctor_id),
            "doctorName": names.get(row.doctor_id, ""),
            "appointmentId": str(row.appointment_id) if row.appointment_id else None,
            "status": row.status,
            "createdAt": iso_z(row.created_at),
            "lastMessageAt": iso_z(row.last_message_at),
        }

    async def _conversation(
        self, archive: zipfile.ZipFile, sink: _Sink, row: store.ConversationRow
    ) -> AsyncIterator[bytes]:
        folder = f"conversations/{row.id}"
        file_ids: list[tuple[uuid.UUID, str]] = []
        with archive.open(f"{folder}/messages.jsonl", "w", force_zip64=True) as out:
            after = 0
            while True:
                page = await self._chat.messages_after(row.id, after, PAGE)
                for message in page:
                    wire = message.wire()
                    wire.pop("fileUrl", None)  # a short-lived link means nothing in an archive
                    out.write(json.dumps(wire, ensure_ascii=False).encode() + b"\n")
                    if message.file_id is not None:
                        file_ids.append((message.file_id, message.file_name or "file"))
                yield sink.take()
                if len(page) < PAGE:
                    break
                after = page[-1].seq
        for file_id, name in file_ids:
            try:
                stored = await self._files.find(file_id)
            except Exception:
                continue  # purged or never clean: nothing to export
            safe = name.replace("/", "_").replace("\\", "_")[:120]
            with archive.open(f"{folder}/files/{file_id}-{safe}", "w", force_zip64=True) as out:
                async for piece in await self._files.content(stored):
                    out.write(piece)
                    yield sink.take()
        async for piece in self._recordings(archive, sink, row.id, folder):
            yield piece

    async def _recordings(
        self, archive: zipfile.ZipFile, sink: _Sink, conversation_id: uuid.UUID, folder: str
    ) -> AsyncIterator[bytes]:
        if self._storage is None:
            return
        query = (
            sa.select(call_recordings.c.id, call_recordings.c.storage_key, call_recordings.c.key_id)
            .join(video_call_rooms, video_call_rooms.c.id == call_recordings.c.room_id)
            .where(
                video_call_rooms.c.conversation_id == conversation_id,
                call_recordings.c.status == "READY",
                call_recordings.c.storage_key.is_not(None),
            )
        )
        async with self._db.read() as db:
            ready = list(await db.execute(query))
        for recording in ready:
            name = f"{folder}/recordings/{recording.id}.webm"
            with archive.open(name, "w", force_zip64=True) as out:
                async for piece in self._storage.read(recording.storage_key, recording.key_id):
                    out.write(piece)
                    yield sink.take()
