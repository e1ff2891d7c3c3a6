"""Demo data for embedded mode: a doctor, a patient and their conversation, with tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from medtalk.chat.service import ChatService
from medtalk.chat.store import list_conversations
from medtalk.core.auth import Principal, Role, mint_token
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.core.events import RecordingSink
from medtalk.db.engine import Database, create_engine
from medtalk.settings import Settings
from medtalk.users.service import UserDirectory

# Fixed ids so running the demo twice finds the same people instead of new ones.
DEMO_DOCTOR = Principal(
    uuid.UUID("00000000-0000-4000-8000-00000000d0c1"), "BS. Nguyễn Văn An", Role.DOCTOR
)
DEMO_PATIENT = Principal(
    uuid.UUID("00000000-0000-4000-8000-0000000070a1"), "Trần Thị Bình", Role.PATIENT
)


@dataclass(frozen=True)
class DemoAccounts:
    doctor_token: str
    patient_token: str
    conversation_id: uuid.UUID


async def seed_demo(settings: Settings, keys: KeyRing) -> DemoAccounts:
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    try:
        return await demo_accounts(settings, db, keys)
    finally:
        await db.close()


async def demo_accounts(settings: Settings, db: Database, keys: KeyRing) -> DemoAccounts:
    """Ensure the demo doctor, patient and their conversation exist; fresh tokens for both."""
    users = UserDirectory(db, Clock())
    for person in (DEMO_DOCTOR, DEMO_PATIENT):
        await users.ensure(person)
    async with db.read() as connection:
        _total, existing = await list_conversations(connection, DEMO_PATIENT.user_id, None, 0, 1)
    if existing:
        conversation_id = existing[0].id
    else:
        chat = ChatService(db, keys, Clock(), RecordingSink(), max_message_length=5000)
        created = await chat.create_conversation(
            DEMO_PATIENT,
            doctor_id=DEMO_DOCTOR.user_id,
            patient_id=None,
            appointment_id=None,
            initial_message="Xin chào bác sĩ, tôi bị đau đầu từ hôm qua.",
        )
        conversation_id = created.conversation_id
    return DemoAccounts(
        doctor_token=mint_token(settings, DEMO_DOCTOR.user_id, DEMO_DOCTOR.name, Role.DOCTOR),
        patient_token=mint_token(settings, DEMO_PATIENT.user_id, DEMO_PATIENT.name, Role.PATIENT),
        conversation_id=conversation_id,
    )
