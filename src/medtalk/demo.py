"""Demo data for embedded mode: a doctor, a patient and their conversation, with tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from medtalk.audit import RequestContext
from medtalk.chat.service import ChatService
from medtalk.core.auth import Principal, Role, mint_token
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


async def demo_accounts(
    settings: Settings, users: UserDirectory, chat: ChatService
) -> DemoAccounts:
    """Ensure the demo doctor, patient and their conversation exist; fresh tokens for both."""
    for person in (DEMO_DOCTOR, DEMO_PATIENT):
        await users.ensure(person)
    existing = await chat.list_conversations(DEMO_PATIENT, None, 1, 1)
    if existing.conversations:
        conversation_id = existing.conversations[0].id
    else:
        created = await chat.create_conversation(
            RequestContext(DEMO_PATIENT),
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
