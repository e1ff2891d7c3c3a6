"""Test helpers of the service tier that read like the product: `clinic.patient()`,
`patient.sends(conversation, "...")`, `doctor.opens_room(conversation)`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from medtalk.audit import RequestContext
from medtalk.calls.schemas import Admitted, CallEnded, CreateRoomRequest, JoinedRoom, RoomCreated
from medtalk.chat.schemas import ConversationCreated, MessageReadReceipt, MessageSent
from medtalk.container import Container
from medtalk.core.auth import Principal, Role
from medtalk.core.clock import FakeClock
from medtalk.core.events import RecordingSink
from medtalk.recordings.schemas import RecordingAck
from medtalk.settings import Settings


@dataclass
class Clinic:
    """The services of one process, the events they announced, and the people in it."""

    settings: Settings
    services: Container
    heard: RecordingSink
    people: list[Person] = field(default_factory=list)

    @property
    def clock(self) -> FakeClock:
        clock = self.services.clock
        assert isinstance(clock, FakeClock)
        return clock

    async def person(self, name: str, role: Role) -> Person:
        principal = Principal(uuid.uuid4(), name, role)
        await self.services.users.ensure(principal)
        person = Person(self, principal)
        self.people.append(person)
        return person

    async def patient(self, name: str = "Trần Thị Bình") -> Person:
        return await self.person(name, Role.PATIENT)

    async def doctor(self, name: str = "BS. Nguyễn Văn An") -> Person:
        return await self.person(name, Role.DOCTOR)

    def events(self, name: str) -> list[tuple[object, dict[str, Any]]]:
        """What was announced as `name`: (conversation or user id, payload), oldest first."""
        return [(target, data) for event, target, data in self.heard.events if event == name]

    async def audit(self, action: str) -> list[Any]:
        rows = [row async for row in self.services.audit.iterate() if row.action == action]
        return rows


@dataclass
class Person:
    clinic: Clinic
    principal: Principal

    @property
    def id(self) -> uuid.UUID:
        return self.principal.user_id

    @property
    def context(self) -> RequestContext:
        return RequestContext(self.principal)

    async def opens_conversation_with(
        self, doctor: Person, initial: str | None = None
    ) -> ConversationCreated:
        return await self.clinic.services.chat.create_conversation(
            self.context,
            doctor_id=doctor.id,
            patient_id=None,
            appointment_id=None,
            initial_message=initial,
        )

    async def sends(
        self, conversation: ConversationCreated, text: str, client_id: str | None = None
    ) -> MessageSent:
        return await self.clinic.services.chat.send_message(
            self.context, conversation.conversation_id, text, client_message_id=client_id
        )

    async def reads(self, message: MessageSent) -> MessageReadReceipt:
        return await self.clinic.services.chat.mark_read(self.context, message.message_id)

    async def opens_room(self, conversation: ConversationCreated) -> RoomCreated:
        request = CreateRoomRequest(conversation_id=conversation.conversation_id)
        return await self.clinic.services.calls.create_room(self.context, request)

    async def joins(self, room: RoomCreated) -> JoinedRoom:
        return await self.clinic.services.calls.join_room(self.context, room.room_id, None)

    async def admits(self, room: RoomCreated, other: Person) -> Admitted:
        return await self.clinic.services.calls.admit(self.context, room.room_id, other.id)

    async def signals(self, room: RoomCreated, event: str = "offer") -> int:
        """Sends an offer (or answer, ice_candidate); how many it was relayed to."""
        body = {"sdp": {"type": "offer", "sdp": "v=0"}} if event != "ice_candidate" else {}
        return await self.clinic.services.calls.signaling.relay_signal(
            self.principal, room.room_id, event, body
        )

    async def ends(self, room: RoomCreated) -> CallEnded:
        return await self.clinic.services.calls.end_call(self.context, room.room_id)

    async def asks_to_record(self, room: RoomCreated) -> RecordingAck:
        return await self.clinic.services.recordings.request(self.context, room.room_id)

    async def consents(self, room: RoomCreated, accepted: bool) -> RecordingAck:
        return await self.clinic.services.recordings.consent(self.context, room.room_id, accepted)

    async def stops_recording(self, room: RoomCreated) -> RecordingAck:
        return await self.clinic.services.recordings.stop(self.context, room.room_id)
