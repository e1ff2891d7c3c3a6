"""Chat use cases: who may do what, persist first, announce after commit."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, RequestContext
from medtalk.audit.trail import AuditEntry
from medtalk.chat import store
from medtalk.chat.appointments import Booking, PlatformAppointments
from medtalk.chat.schemas import (
    ContentType,
    ConversationCreated,
    ConversationList,
    ConversationStatus,
    ConversationSummary,
    LastMessage,
    Message,
    MessagePage,
    MessageReadReceipt,
    MessageSent,
)
from medtalk.chat.store import ConversationRow, MessageRow
from medtalk.core import metrics
from medtalk.core.auth import Principal, Role
from medtalk.core.clock import Clock
from medtalk.core.crypto import DecryptionError, KeyRing
from medtalk.core.errors import Conflict, Forbidden, Invalid, MedtalkError, NotFound, Unavailable
from medtalk.core.events import EventSink
from medtalk.core.ratelimit import RateLimiter
from medtalk.db import together
from medtalk.db.engine import Database, after_commit
from medtalk.db.group_commit import GroupCommit
from medtalk.jobs.kinds.notify import NOTIFY_OFFLINE, notify_jobs
from medtalk.jobs.outbox import JobOutbox
from medtalk.search.index import SearchIndex, Written
from medtalk.users import store as user_store

logger = logging.getLogger(__name__)

REPLAY_PAGE = 200
# Writes the file's row inside the message's transaction (given the new message id).
InsertFile = Callable[[AsyncConnection, uuid.UUID], Awaitable[None]]


@dataclass(frozen=True)
class Attachment:
    """A stored file that a message carries (see files/service.py)."""

    file_id: uuid.UUID
    file_name: str
    file_size: int
    content_type: ContentType
    status: str = "CLEAN"  # PENDING until a malware scan says CLEAN or INFECTED
    has_thumbnail: bool = False
    duration_seconds: float | None = None  # voice messages and video clips


# Which of these users have a live socket on some node (realtime/presence).
OnlineAmong = Callable[[Collection[uuid.UUID]], Awaitable[set[uuid.UUID]]]


class ChatService:
    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        clock: Clock,
        events: EventSink,
        audit: AuditTrail,
        *,
        max_message_length: int,
        file_link: Callable[[uuid.UUID], str] = lambda file_id: f"/api/v1/chat/files/{file_id}",
        thumbnail_link: Callable[[uuid.UUID], str] | None = None,
        rate_limiter: RateLimiter | None = None,
        outbox: JobOutbox | None = None,
        batch_max: int = 1,
        batch_window_seconds: float = 0.0,
        appointments: PlatformAppointments | None = None,
        patients_bind_appointments: bool = True,
        online_among: OnlineAmong | None = None,
        unseen_window: timedelta = timedelta(seconds=60),
    ) -> None:
        self._db = db
        self._unseen_window = unseen_window
        # issue 15: who of a batch's recipients has a live socket (no offline job for them)
        self._online_among = online_among
        # issue 16: where appointment bindings come from (chat/appointments.py)
        self._appointments = appointments
        self._patients_bind_appointments = patients_bind_appointments
        self._keys = keys
        self._clock = clock
        self._events = events
        self._audit = audit
        self._max_length = max_message_length
        self._file_link = file_link
        self._thumbnail_link = thumbnail_link or (lambda file_id: f"{file_link(file_id)}/thumbnail")
        self._rate_limiter = rate_limiter
        self._outbox = outbox
        self._search: SearchIndex | None = None
        # performance (issue 8): text messages group-committed by one writer (db/group_commit.py)
        self._text_writer: GroupCommit[_NewMessage, _Stored] | None = None
        if batch_max > 1:
            self._text_writer = GroupCommit(
                self._persist_batch,
                self._persist,
                max_batch=batch_max,
                window_seconds=batch_window_seconds,
            )

    def set_file_link(
        self,
        file_link: Callable[[uuid.UUID], str],
        thumbnail_link: Callable[[uuid.UUID], str] | None = None,
    ) -> None:
        self._file_link = file_link
        if thumbnail_link is not None:
            self._thumbnail_link = thumbnail_link

    def set_search_index(self, search: SearchIndex) -> None:
        """Index every new message's words in its transaction (search/, issue 19)."""
        self._search = search

    # --- conversations --------------------------------------------------------------------

    async def create_conversation(
        self,
        context: RequestContext,
        *,
        doctor_id: uuid.UUID | None,
        patient_id: uuid.UUID | None,
        appointment_id: uuid.UUID | None,
        initial_message: str | None,
    ) -> ConversationCreated:
        """A patient opens a conversation with a doctor (or a doctor with a patient)."""
        caller = context.actor
        patient_id, doctor_id = _parties(caller, doctor_id, patient_id)
        if initial_message is not None:
            self._check_text(initial_message)
        conversation_id = uuid.uuid4()
        now = self._clock.now()
        booking = await self._booking(appointment_id) if appointment_id else None
        async with self._db.transaction() as db:
            parties = await user_store.get_users(db, {patient_id, doctor_id})
            doctor, patient = parties.get(doctor_id), parties.get(patient_id)
            if doctor is None or doctor.role is not Role.DOCTOR:
                raise NotFound("no such doctor", code="DOCTOR_NOT_FOUND")
            if patient is None or patient.role is not Role.PATIENT:
                raise NotFound("no such patient", code="PATIENT_NOT_FOUND")
            if appointment_id is not None:
                await self._attach_appointment(
                    db, caller, appointment_id, (patient_id, doctor_id), booking, now
                )
            await store.insert_conversation(
                db, conversation_id, patient_id, doctor_id, appointment_id, now
            )
            first = None
            if initial_message and initial_message.strip():
                first = await self._write_one(
                    db, _NewMessage(caller, conversation_id, initial_message, None)
                )
            created = ConversationCreated(
                conversation_id=conversation_id,
                doctor_id=doctor_id,
                doctor_name=doctor.name,
                patient_id=patient_id,
                patient_name=patient.name,
                appointment_id=appointment_id,
                status=ConversationStatus.ACTIVE,
                created_at=now,
            )
            after_commit(db, lambda: self._announce_conversation(caller, created, first))
        await self._audited(
            context, "conversation.create", "conversation", conversation_id, conversation_id
        )
        return created

    async def _announce_conversation(
        self, caller: Principal, created: ConversationCreated, first: MessageRow | None
    ) -> None:
        other = created.doctor_id if caller.user_id == created.patient_id else created.patient_id
        await self._events.to_user(other, "conversation_created", created.wire())
        if first is not None:
            self._kick_outbox()
            await self._announce(first)

    async def _audited(
        self,
        context: RequestContext,
        action: str,
        object_type: str,
        object_id: uuid.UUID,
        conversation_id: uuid.UUID,
    ) -> None:
        """The audit row of a change the caller made (same row whichever door they came by)."""
        await self._audit.record(
            action,
            actor=context.actor,
            client=context.client,
            object_type=object_type,
            object_id=object_id,
            conversation_id=conversation_id,
        )

    async def _booking(self, appointment_id: uuid.UUID) -> Booking | None:
        """The platform's word on an appointment not bound yet (None: no hook, or bound)."""
        if self._appointments is None:
            return None
        async with self._db.read() as db:
            if await store.get_appointment_parties(db, appointment_id) is not None:
                return None
        booking = await self._appointments.lookup(appointment_id)
        if booking is None:
            raise NotFound("no such appointment for this patient and doctor")
        return booking

    async def _attach_appointment(
        self,
        db: AsyncConnection,
        caller: Principal,
        appointment_id: uuid.UUID,
        parties: tuple[uuid.UUID, uuid.UUID],
        booking: Booking | None,
        now: datetime,
    ) -> None:
        """Bind the appointment to (patient, doctor) the first time it is named; afterwards
        (and, with the platform hook, the first time too) the parties must match."""
        bound = await store.get_appointment_parties(db, appointment_id)
        if bound is not None:
            if bound != parties:
                raise NotFound("no such appointment for this patient and doctor")
            return
        if booking is not None:
            if (booking.patient_id, booking.doctor_id) != parties:
                raise NotFound("no such appointment for this patient and doctor")
        elif self._appointments is not None:
            # Bound meanwhile by another request and removed? Ask again next time.
            raise NotFound("no such appointment for this patient and doctor")
        elif caller.role is Role.PATIENT and not self._patients_bind_appointments:
            # Without the platform's word a patient could squat another patient's appointment.
            raise NotFound("no such appointment for this patient and doctor")
        await store.insert_appointment(
            db,
            appointment_id,
            parties[0],
            parties[1],
            now,
            scheduled_time=booking.scheduled_time if booking else None,
        )

    async def list_conversations(
        self, caller: Principal, status: ConversationStatus | None, page: int, limit: int
    ) -> ConversationList:
        scope = None if caller.is_admin else caller.user_id
        async with self._db.read() as db:
            total, rows = await store.list_conversations(
                db, scope, status.value if status else None, (page - 1) * limit, limit
            )
            ids = [row.id for row in rows]
            unread = await store.unread_counts(db, ids, caller.user_id)
            last = await store.last_messages(db, rows)
            names = await store.user_names(
                db, {row.doctor_id for row in rows} | {row.patient_id for row in rows}
            )
        summaries = [
            ConversationSummary(
                id=row.id,
                doctor_id=row.doctor_id,
                doctor_name=names.get(row.doctor_id, ""),
                patient_id=row.patient_id,
                patient_name=names.get(row.patient_id, ""),
                appointment_id=row.appointment_id,
                status=ConversationStatus(row.status),
                created_at=row.created_at,
                last_message=self._last_message(last.get(row.id)),
                unread_count=unread.get(row.id, 0),
                last_seq=row.last_seq,
            )
            for row in rows
        ]
        return ConversationList(total=total, page=page, limit=limit, conversations=summaries)

    def _last_message(self, row: MessageRow | None) -> LastMessage | None:
        if row is None:
            return None
        content = self._open(row)
        return LastMessage(
            message_id=row.id,
            sender_id=row.sender_id,
            content=content or "",
            content_type=ContentType(row.content_type),
            sent_at=row.sent_at,
            is_read=row.is_read,
            unreadable=content is None,
        )

    async def conversation_for(
        self, caller: Principal, conversation_id: uuid.UUID
    ) -> ConversationRow:
        """The conversation if the caller takes part in it (or is ADMIN); NotFound otherwise."""
        async with self._db.read() as db:
            return await _visible_conversation(db, caller, conversation_id)

    # --- messages -------------------------------------------------------------------------

    async def send_message(
        self,
        context: RequestContext,
        conversation_id: uuid.UUID,
        content: str,
        content_type: ContentType = ContentType.TEXT,
        client_message_id: str | None = None,
    ) -> MessageSent:
        """Store a text message and announce it; a retried client id returns the stored one."""
        caller = context.actor
        try:
            if content_type is not ContentType.TEXT:
                raise Invalid("only TEXT is sent here; files go to /api/v1/chat/messages/upload")
            self._check_text(content)
            if self._rate_limiter is not None:
                # Before anything is stored: a refused message leaves no trace.
                await self._rate_limiter.check_message(caller.user_id)
            request = _NewMessage(
                caller, conversation_id, content, client_message_id, context=context
            )
            if self._text_writer is not None:
                message, created = await self._text_writer.submit(request)
            else:
                message, created = await self._persist(request)
        except MedtalkError as error:
            metrics.message_failed(error.code)
            raise
        if created:
            # Announced by the caller's task once its batch committed (not by the one writer
            # of db/group_commit.py, which must stay free to commit the next batch).
            self._kick_outbox()
            await self._announce(message, content)  # just sealed: no need to open it again
        else:  # a retried client id: the first send's audit row committed with its message
            await self._audited(context, "message.send", "message", message.id, conversation_id)
        return _sent(message)

    async def send_attachment(
        self,
        caller: Principal,
        conversation_id: uuid.UUID,
        attachment: Attachment,
        insert_file: InsertFile,
    ) -> MessageRow:
        """Store a file message; `insert_file` writes the file row in the same transaction."""
        return await self._store_message(
            caller,
            conversation_id,
            attachment.file_name,
            attachment.content_type,
            None,
            (attachment, insert_file),
        )

    async def record_call(
        self, caller: Principal, conversation_id: uuid.UUID, room_id: uuid.UUID, record: str
    ) -> MessageRow | None:
        """A finished or missed video call as a message of its conversation (contentType CALL),
        stored, delivered and counted like any other; written once per room (its client id).
        None when the conversation no longer takes messages."""
        try:
            return await self._store_message(
                caller, conversation_id, record, ContentType.CALL, f"call:{room_id}", None
            )
        except Conflict:
            return None

    async def _store_message(
        self,
        caller: Principal,
        conversation_id: uuid.UUID,
        content: str,
        content_type: ContentType,
        client_message_id: str | None,
        attachment: tuple[Attachment, InsertFile] | None,
    ) -> MessageRow:
        message, created = await self._persist(
            _NewMessage(
                caller, conversation_id, content, client_message_id, content_type, attachment
            )
        )
        if created:
            self._kick_outbox()
            await self._announce(message)
        return message

    async def _persist(self, request: _NewMessage) -> _Stored:
        """One message in its own transaction; (row, True) if stored now, (row, False) if a
        retried client id found the row stored before."""
        try:
            async with self._db.transaction() as db:
                [result] = await self._write_messages(db, [request])
                if isinstance(result, MedtalkError):
                    raise result
                return result
        except IntegrityError:
            # Two retries with one client id raced; the first one's row is the answer.
            if not request.client_message_id:
                raise
            async with self._db.read() as db:
                stored = await store.find_by_client_id(
                    db, request.conversation_id, request.caller.user_id, request.client_message_id
                )
            if stored is None:
                raise
            return stored, False

    async def _persist_batch(self, requests: Sequence[_NewMessage]) -> list[_Stored | MedtalkError]:
        """Many messages in one transaction (db/group_commit.py's group commit); if anything raises,
        the whole batch rolls back and GroupCommit stores the requests one by one."""
        async with self._db.transaction() as db:
            return await self._write_messages(db, requests)

    async def _write_one(self, db: AsyncConnection, request: _NewMessage) -> MessageRow:
        """One message inside the caller's transaction (a new conversation's first message)."""
        [result] = await self._write_messages(db, [request])
        if isinstance(result, MedtalkError):
            raise result
        return result[0]

    async def _write_messages(
        self, db: AsyncConnection, requests: Sequence[_NewMessage]
    ) -> list[_Stored | MedtalkError]:
        """The one write path of messages, each checked and numbered as if alone.

        Participation and status are checked under the conversation's row lock, a retried
        client id answers with the stored row, seq and sent_at increase with no gaps or ties,
        and the outbox row (and a file's row) commit with their message. A refused request gets
        its own error and takes no seq.
        """
        results: list[_Stored | MedtalkError] = []
        locked = await store.lock_conversations(db, {r.conversation_id for r in requests})
        stored = await store.find_by_client_ids(
            db,
            {
                (r.conversation_id, r.caller.user_id, r.client_message_id)
                for r in requests
                if r.client_message_id
            },
        )
        now = self._clock.now()
        newest: dict[uuid.UUID, tuple[int, datetime]] = {}
        fresh: list[tuple[MessageRow, _NewMessage]] = []
        for request in requests:
            conversation = locked.get(request.conversation_id)
            try:
                if conversation is None or not (
                    request.caller.is_admin or conversation.has_participant(request.caller.user_id)
                ):
                    # Not yours and not there look the same from outside: no existence leak.
                    raise NotFound("no such conversation")
                _check_can_send(request.caller, conversation)
            except MedtalkError as error:
                results.append(error)
                continue
            key = (conversation.id, request.caller.user_id, request.client_message_id or "")
            if request.client_message_id and key in stored:
                results.append((stored[key], False))
                continue
            last_seq, previous = newest.get(
                conversation.id, (conversation.last_seq, conversation.last_message_at)
            )
            sent_at = store.next_sent_at(previous, now)
            message = self._new_message(
                conversation.id,
                request.caller,
                request.content,
                request.content_type,
                request.client_message_id,
                request.attachment[0] if request.attachment else None,
                last_seq + 1,
                sent_at,
            )
            newest[conversation.id] = (message.seq, sent_at)
            if request.client_message_id:
                stored[key] = message  # a second copy in this batch gets this row
            fresh.append((message, request))
            results.append((message, True))
        if fresh:
            await self._write_fresh(db, locked, newest, fresh, now)
        return results

    async def _write_fresh(
        self,
        db: AsyncConnection,
        locked: dict[uuid.UUID, ConversationRow],
        newest: dict[uuid.UUID, tuple[int, datetime]],
        fresh: list[tuple[MessageRow, _NewMessage]],
        now: datetime,
    ) -> None:
        """The batch's writes, sent together (one statement on PostgreSQL, db/together.py):
        the messages, their search terms (issue 19's blind index), the conversations' newest
        seq, offline jobs, and last the audit rows, whose chain head stays locked from their
        claim to the commit (audit/trail.py)."""
        notify = await self._notify_jobs(locked, fresh)
        writes = [store.messages_write([message for message, _ in fresh])]
        if self._search is not None:
            known = {c.id: c.search_key_id for c in locked.values()}
            terms = await self._search.terms_write(
                db, [Written.of(m, r.content) for m, r in fresh], known
            )
            writes += [terms] if terms is not None else []
        writes.append(store.advance_write(newest, now))
        jobs = self._outbox.coalesced_write(NOTIFY_OFFLINE, notify) if self._outbox else None
        writes += [jobs] if jobs is not None else []
        writes += await self._audit.chain_writes(
            db, [self._sent_entry(m, r) for m, r in fresh if r.context]
        )
        await together.run(db, writes)
        for message, request in fresh:
            if request.attachment is not None:  # the file's row refers to its message
                await request.attachment[1](db, message.id)

    def _sent_entry(self, message: MessageRow, request: _NewMessage) -> AuditEntry:
        assert request.context is not None
        return self._audit.entry(
            "message.send",
            actor=request.context.actor,
            client=request.context.client,
            object_type="message",
            object_id=message.id,
            conversation_id=message.conversation_id,
        )

    async def _notify_jobs(
        self,
        conversations: dict[uuid.UUID, ConversationRow],
        fresh: list[tuple[MessageRow, _NewMessage]],
    ) -> dict[str, dict[str, Any]]:
        """One coalesced offline-notification job per recipient and conversation, and none for
        a recipient with a live socket on any node (issue 15: no background work per message).
        Who is online is read once per batch; when that cannot be known, the job is written
        and its handler looks again."""
        if self._outbox is None:
            return {}
        waiting = {
            (conversations[m.conversation_id].other_participant(m.sender_id), m.conversation_id)
            for m, _ in fresh
        }
        online: set[uuid.UUID] = set()
        if self._online_among is not None:
            try:
                online = await self._online_among({recipient for recipient, _ in waiting})
            except Unavailable:
                online = set()
        return notify_jobs(pair for pair in waiting if pair[0] not in online)

    def _kick_outbox(self) -> None:
        if self._outbox is not None:
            self._outbox.kick()

    def _new_message(
        self,
        conversation_id: uuid.UUID,
        sender: Principal,
        content: str,
        content_type: ContentType,
        client_message_id: str | None,
        attachment: Attachment | None,
        seq: int,
        sent_at: datetime,
    ) -> MessageRow:
        """The row of a new message, content sealed; not stored yet."""
        message_id = uuid.uuid4()
        key_id, sealed = self._keys.seal_text(content, associated=str(message_id))
        return MessageRow(
            id=message_id,
            conversation_id=conversation_id,
            seq=seq,
            sender_id=sender.user_id,
            sender_type=sender.role.value,
            content=sealed,
            key_id=key_id,
            content_type=content_type.value,
            # The name is PHI too ("HIV-test.pdf"): it is stored only sealed, as the content.
            file_name=None,
            file_size=attachment.file_size if attachment else None,
            file_id=attachment.file_id if attachment else None,
            client_message_id=client_message_id,
            is_read=False,
            read_at=None,
            sent_at=sent_at,
            file_status=attachment.status if attachment else None,
            has_thumbnail=attachment.has_thumbnail if attachment else False,
            duration_seconds=attachment.duration_seconds if attachment else None,
        )

    async def _announce(self, message: MessageRow, plaintext: str | None = None) -> None:
        metrics.message_sent(message.content_type)
        await self._events.message_created(
            message.conversation_id, message.seq, self.view(message, plaintext).wire()
        )

    async def history(
        self,
        caller: Principal,
        conversation_id: uuid.UUID,
        before: datetime | None,
        limit: int,
    ) -> MessagePage:
        """Messages sent before `before`, newest first; `hasMore` says whether older ones exist."""
        async with self._db.read() as db:
            await _visible_conversation(db, caller, conversation_id)
            rows = await store.messages_before(db, conversation_id, before, limit + 1)
        return MessagePage(
            messages=[self.view(row) for row in rows[:limit]], has_more=len(rows) > limit
        )

    async def messages_after(
        self, conversation_id: uuid.UUID, after_seq: int, limit: int = REPLAY_PAGE
    ) -> list[Message]:
        """Recovery for a socket that already passed the participation check."""
        async with self._db.read() as db:
            rows = await store.messages_after_seq(db, conversation_id, after_seq, limit)
        return [self.view(row) for row in rows]

    async def mark_read(self, context: RequestContext, message_id: uuid.UUID) -> MessageReadReceipt:
        """The caller has read this message and everything the other side sent before it."""
        caller = context.actor
        now = self._clock.now()
        async with self._db.transaction() as db:
            message = await store.get_message(db, message_id)
            if message is None:
                raise NotFound("no such message")
            conversation = await _visible_conversation(db, caller, message.conversation_id)
            changed = 0
            if conversation.has_participant(caller.user_id) and message.sender_id != caller.user_id:
                changed = await store.mark_read_up_to(
                    db, conversation.id, caller.user_id, message.seq, now
                )
                if changed and self._outbox is not None:
                    # The per-reader cursor is bookkeeping: a job keeps it, off the reader's path.
                    await self._outbox.add(
                        db,
                        "record_read",
                        {
                            "conversationId": str(conversation.id),
                            "userId": str(caller.user_id),
                            "seq": message.seq,
                        },
                    )
            receipt = MessageReadReceipt(
                message_id=message.id,
                conversation_id=message.conversation_id,
                reader_id=caller.user_id,
                up_to_seq=message.seq,
                read_at=now if changed else (message.read_at or now),
            )
            if changed:
                after_commit(db, lambda: self._announce_read(receipt))
        await self._audited(
            context, "message.mark_read", "message", message_id, receipt.conversation_id
        )
        return receipt

    async def _announce_read(self, receipt: MessageReadReceipt) -> None:
        self._kick_outbox()
        await self._events.to_conversation(receipt.conversation_id, "message_read", receipt.wire())

    # --- status, presence support ----------------------------------------------------------

    async def set_status(
        self, caller: Principal, conversation_id: uuid.UUID, status: ConversationStatus
    ) -> ConversationStatus:
        """The conversation's doctor closes it (CLOSED) or reopens it (ACTIVE).

        ARCHIVED is reached only through the archive job, and is final.
        """
        if status is ConversationStatus.ARCHIVED:
            raise Invalid("a conversation is archived by the server, not by a request")
        async with self._db.transaction() as db:
            conversation = await _visible_conversation(db, caller, conversation_id)
            if caller.user_id != conversation.doctor_id:
                raise Forbidden("only the conversation's doctor changes its status")
            if conversation.status == ConversationStatus.ARCHIVED.value:
                raise Conflict("the conversation is archived", code="CONVERSATION_ARCHIVED")
            if conversation.status != status.value:
                await store.set_status(db, conversation_id, status.value, self._clock.now())
                after_commit(
                    db,
                    lambda: self._events.to_conversation(
                        conversation_id,
                        "conversation_status",
                        {"conversationId": str(conversation_id), "status": status.value},
                    ),
                )
        return status

    async def went_offline(self, user_id: uuid.UUID) -> None:
        """The user's last socket, on any node, went: what they may not have seen is told.

        A message delivered to a socket that was already dead (engine.io finds out only after
        its ping interval and timeout) or committed just before the socket went wrote no
        offline job: the recipient looked online. So each conversation with messages of the
        last `unseen_window` the user has not read gets the usual coalesced job; its handler
        tells only what was not told before, and nothing if they came back or read it.
        """
        if self._outbox is None:
            return
        since = self._clock.now() - self._unseen_window
        # Read first: most users leave with nothing unread, and a write transaction would take
        # SQLite's write lock on every disconnect. Writing the coalesced job is idempotent.
        async with self._db.read() as db:
            conversation_ids = await store.unread_since(db, user_id, since)
        if not conversation_ids:
            return
        jobs = notify_jobs((user_id, conversation_id) for conversation_id in conversation_ids)
        write = self._outbox.coalesced_write(NOTIFY_OFFLINE, jobs)
        assert write is not None  # jobs is not empty
        async with self._db.transaction() as db:
            await together.run(db, [write])
        self._kick_outbox()

    async def counterparts(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        """Everyone who shares a conversation with the user (who sees their presence)."""
        async with self._db.read() as db:
            return await store.counterparts(db, user_id)

    async def check_may_see_presence(self, caller: Principal, user_id: uuid.UUID) -> None:
        """NotFound unless the caller shares a conversation with the user (or is the user)."""
        if caller.user_id == user_id or caller.is_admin:
            return
        if user_id not in await self.counterparts(caller.user_id):
            raise NotFound("no such user")

    async def newest_seqs(self, conversation_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        async with self._db.read() as db:
            return await store.last_seqs(db, conversation_ids)

    # --- helpers --------------------------------------------------------------------------

    def view(self, row: MessageRow, plaintext: str | None = None) -> Message:
        """The wire model; `plaintext` is the content when the caller has it already."""
        file_id = row.file_id if row.file_status != "INFECTED" else None
        content = plaintext if plaintext is not None else self._open(row)
        return Message(
            id=row.id,
            message_id=row.id,
            conversation_id=row.conversation_id,
            seq=row.seq,
            sender_id=row.sender_id,
            sender_type=row.sender_type,
            content=content or "",
            unreadable=content is None,
            content_type=ContentType(row.content_type),
            sent_at=row.sent_at,
            is_read=row.is_read,
            read_at=row.read_at,
            client_message_id=row.client_message_id,
            file_id=row.file_id,
            file_name=(content if row.file_id else None) if content is not None else None,
            file_size=row.file_size,
            file_status=row.file_status,
            # A quarantined file has no links at all; one being scanned answers 423 until clean.
            file_url=self._file_link(file_id) if file_id else None,
            thumbnail_url=self._thumbnail_link(file_id) if file_id and row.has_thumbnail else None,
            duration_seconds=row.duration_seconds,
        )

    def _open(self, row: MessageRow) -> str | None:
        """The plaintext, or None when the row fails authentication or its key is retired.

        Such a message is served with empty content and `unreadable: true` (an explicit flag a
        client can show, rather than placeholder text that could pass for what was written),
        so one bad row neither leaks garbage nor fails the whole page.
        """
        try:
            return self._keys.open_text(row.key_id, row.content, associated=str(row.id))
        except (DecryptionError, ValueError):
            logger.warning("message %s failed decryption (key %s)", row.id, row.key_id)
            return None

    def _check_text(self, content: str) -> None:
        if not content.strip():
            raise Invalid("message content is empty")
        if len(content) > self._max_length:
            raise Invalid(f"message content is longer than {self._max_length} characters")


def _parties(
    caller: Principal, doctor_id: uuid.UUID | None, patient_id: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID]:
    """(patient, doctor) of a new conversation, from the caller's role and the request."""
    if caller.role is Role.PATIENT:
        if doctor_id is None:
            raise Invalid("doctorId is required")
        if patient_id not in (None, caller.user_id):
            raise Forbidden("a patient opens conversations for themselves only")
        return caller.user_id, doctor_id
    if caller.role is Role.DOCTOR:
        if patient_id is None:
            raise Invalid("patientId is required when a doctor opens a conversation")
        if doctor_id not in (None, caller.user_id):
            raise Forbidden("a doctor opens conversations for themselves only")
        return patient_id, caller.user_id
    raise Forbidden("administrators do not open conversations")


async def _visible_conversation(
    db: AsyncConnection, caller: Principal, conversation_id: uuid.UUID
) -> ConversationRow:
    conversation = await store.get_conversation(db, conversation_id)
    # Not yours and not there look the same from outside: no existence leak.
    if conversation is None or not (
        caller.is_admin or conversation.has_participant(caller.user_id)
    ):
        raise NotFound("no such conversation")
    return conversation


def _check_can_send(caller: Principal, conversation: ConversationRow) -> None:
    if not conversation.has_participant(caller.user_id):
        raise Forbidden("only the patient and the doctor write in a conversation")
    if conversation.status != ConversationStatus.ACTIVE.value:
        raise Conflict(f"the conversation is {conversation.status}", code="CONVERSATION_NOT_ACTIVE")


def _sent(message: MessageRow) -> MessageSent:
    return MessageSent(
        message_id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sent_at=message.sent_at,
    )


# --- performance (issue 8): the group-committed text path ---------------------------------


@dataclass(frozen=True)
class _NewMessage:
    """A message to store: text, or a file's message with the writer of the file's row."""

    caller: Principal
    conversation_id: uuid.UUID
    content: str
    client_message_id: str | None
    content_type: ContentType = ContentType.TEXT
    attachment: tuple[Attachment, InsertFile] | None = None
    # Who sent it from where: its audit row commits with it (None: the caller audits).
    context: RequestContext | None = None


# A stored message, and whether this request stored it (False: a retry found it stored).
_Stored = tuple[MessageRow, bool]
