"""The FHIR export of one conversation, for a participant, an ADMIN or an operator; each
export is audited here (`conversation.fhir_export`), the same row whichever door asked."""

from __future__ import annotations

import uuid

from medtalk.audit import AuditTrail, RequestContext
from medtalk.chat import store as chat_store
from medtalk.chat.schemas import Message
from medtalk.chat.service import ChatService
from medtalk.core.clock import Clock
from medtalk.core.errors import NotFound
from medtalk.db.engine import Database
from medtalk.fhir import store
from medtalk.fhir.bundle import JSON, Consultation, build_bundle

PAGE = 500


class FhirExport:
    def __init__(self, db: Database, chat: ChatService, clock: Clock, audit: AuditTrail) -> None:
        self._db = db
        self._chat = chat
        self._clock = clock
        self._audit = audit

    async def bundle(
        self, context: RequestContext | None, conversation_id: uuid.UUID, base_url: str
    ) -> JSON:
        """The conversation as a FHIR R4 Bundle; `context` None is an operator (CLI).

        NotFound for anyone but its two participants and ADMIN, as everywhere else. Audited
        (ids and counts only).
        """
        bundle = await self._build(context, conversation_id, base_url)
        await self._audit.record(
            "conversation.fhir_export",
            actor=context.actor if context else None,
            role=None if context else "OPERATOR",
            client=context.client if context else None,
            object_type="conversation",
            object_id=conversation_id,
            conversation_id=conversation_id,
            detail=f"{len(bundle['entry'])} resources",
        )
        return bundle

    async def _build(
        self, context: RequestContext | None, conversation_id: uuid.UUID, base_url: str
    ) -> JSON:
        if context is not None:
            conversation = await self._chat.conversation_for(context.actor, conversation_id)
        else:
            async with self._db.read() as db:
                found = await chat_store.get_conversation(db, conversation_id)
            if found is None:
                raise NotFound("no such conversation")
            conversation = found
        messages = await self._all_messages(conversation_id)
        async with self._db.read() as db:
            people = await store.people(db, {conversation.patient_id, conversation.doctor_id})
            files = await store.files_of(db, conversation_id)
            calls = await store.calls_of(db, conversation_id)
        consultation = Consultation(
            conversation_id=conversation_id,
            patient=people[conversation.patient_id],
            doctor=people[conversation.doctor_id],
            messages=messages,
            files=files,
            calls=calls,
            base_url=base_url.rstrip("/"),
        )
        return build_bundle(consultation, uuid.uuid4(), self._clock.now())

    async def _all_messages(self, conversation_id: uuid.UUID) -> list[Message]:
        found: list[Message] = []
        while True:
            page = await self._chat.messages_after(
                conversation_id, found[-1].seq if found else 0, PAGE
            )
            found += page
            if len(page) < PAGE:
                return found
