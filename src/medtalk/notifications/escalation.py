"""Clinician escalation: a patient message the doctor has not read for too long.

A sweep (every MEDTALK_ESCALATION_SWEEP_SECONDS, on each serve node and the worker) sets the
`medtalk_unanswered_patient_messages` gauge by age, and, within clinic hours, looks at each
ACTIVE conversation's oldest unread patient message. For each threshold it has passed, a row in
`notification_escalations` (primary key: message, threshold) is inserted with an
`escalate_unanswered` job in one transaction: the first node to insert it writes the job,
so each wait escalates once per threshold. Once the doctor reads, the message is no longer
unread: the sweep stops finding it, and a job still queued for it sends nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from medtalk.core import metrics
from medtalk.core.clock import Clock, iso_z
from medtalk.db.engine import Database
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.registry import JobKind, Payload, Sweep
from medtalk.notifications import store
from medtalk.notifications.email import Mailer
from medtalk.notifications.once import once
from medtalk.notifications.preferences import parse_hhmm, within, zone
from medtalk.notifications.webhook import WebhookNotifier

ESCALATE = "escalate_unanswered"
# The gauge's `age` label: (label, from seconds, to seconds (None: no end)).
AGE_BUCKETS: list[tuple[str, float, float | None]] = [
    ("0-15m", 0, 15 * 60),
    ("15-30m", 15 * 60, 30 * 60),
    ("30-60m", 30 * 60, 60 * 60),
    ("1-4h", 3600, 4 * 3600),
    ("4h+", 4 * 3600, None),
]


@dataclass(frozen=True)
class EscalationPolicy:
    thresholds_minutes: list[int]
    clinic_hours: tuple[time, time] | None
    time_zone: str

    @classmethod
    def parse(cls, thresholds: list[int], clinic_hours: str, time_zone: str) -> EscalationPolicy:
        hours = None
        if clinic_hours:
            start, end = clinic_hours.split("-")
            hours = (parse_hhmm(start), parse_hhmm(end))
        return cls(sorted(set(thresholds)), hours, time_zone)

    def in_clinic_hours(self, moment: datetime) -> bool:
        if self.clinic_hours is None:
            return True
        return within(moment.astimezone(zone(self.time_zone)).time(), *self.clinic_hours)


class Escalation:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        outbox: JobOutbox,
        policy: EscalationPolicy,
        *,
        webhook: WebhookNotifier | None,
        mailer: Mailer | None,
        on_call_email: str,
    ) -> None:
        self._db = db
        self._clock = clock
        self._outbox = outbox
        self._policy = policy
        self._webhook = webhook
        self._mailer = mailer
        self._on_call_email = on_call_email

    async def sweep(self) -> int:
        """Update the gauge; write the escalations now due. Returns how many were written."""
        now = self._clock.now()
        buckets = [
            (
                label,
                now - timedelta(seconds=low),
                None if high is None else now - timedelta(seconds=high),
            )
            for label, low, high in AGE_BUCKETS
        ]
        async with self._db.read() as db:
            metrics.set_unanswered_patient_messages(await store.unanswered_by_age(db, buckets))
        thresholds = self._policy.thresholds_minutes
        if not thresholds or not self._policy.in_clinic_hours(now):
            return 0
        async with self._db.read() as db:
            waiting = await store.oldest_waiting(db, now - timedelta(minutes=thresholds[0]))
        written = 0
        for message in waiting:
            waited = now - message.sent_at
            for threshold in thresholds:
                if waited >= timedelta(minutes=threshold):
                    written += await self._escalate_once(message, threshold, waited, now)
        if written:
            self._outbox.kick()
        return written

    async def _escalate_once(
        self, message: store.Waiting, threshold: int, waited: timedelta, now: datetime
    ) -> int:
        async with self._db.transaction() as db:
            if not await store.mark_escalated(db, message, threshold, now):
                return 0
            payload = {
                "conversationId": str(message.conversation_id),
                "messageId": str(message.message_id),
                "patientId": str(message.patient_id),
                "thresholdMinutes": threshold,
                "sentAt": iso_z(message.sent_at),
            }
            await self._outbox.add(db, ESCALATE, payload)
        return 1

    async def __call__(self, payload: Payload) -> None:
        """The `escalate_unanswered` job: tell the on-call target, if still unread."""
        message_id = uuid.UUID(payload["messageId"])
        async with self._db.read() as db:
            if not await store.still_unread(db, message_id):
                return  # the doctor read it meanwhile
            patient_name = await store.user_name(db, uuid.UUID(payload["patientId"]))
        sent_at = datetime.fromisoformat(payload["sentAt"].replace("Z", "+00:00"))
        waited_minutes = int((self._clock.now() - sent_at).total_seconds() // 60)
        escalation = {
            "type": "ESCALATION",
            "conversationId": payload["conversationId"],
            "patientName": patient_name,
            "waitedMinutes": waited_minutes,
            "thresholdMinutes": payload["thresholdMinutes"],
        }
        key = f"escalate:{message_id}:{payload['thresholdMinutes']}"
        if self._webhook is not None:
            webhook = self._webhook
            await once(
                self._db, self._clock, f"{key}:webhook", lambda: webhook.post(escalation, key)
            )
        if self._mailer is not None and self._on_call_email:
            mailer = self._mailer
            text = escalation_text(escalation)
            subject = (
                f"medtalk: {patient_name} chờ {waited_minutes} phút / waiting {waited_minutes} min"
            )

            async def mail() -> None:
                await mailer.send(
                    self._on_call_email, subject, text, message_id=key.replace(":", ".")
                )

            await once(self._db, self._clock, f"{key}:email", mail)


def escalation_text(escalation: dict[str, object]) -> str:
    return (
        f"Bệnh nhân {escalation['patientName']} đã chờ {escalation['waitedMinutes']} phút "
        f"mà bác sĩ chưa đọc tin nhắn.\n"
        f"Patient {escalation['patientName']} has waited {escalation['waitedMinutes']} minutes "
        f"for the doctor to read their message.\n\n"
        f"Conversation: {escalation['conversationId']}\n"
        f"Threshold: {escalation['thresholdMinutes']} min\n"
    )


def kind(escalation: Escalation) -> JobKind:
    return JobKind(ESCALATE, escalation)


def sweep(escalation: Escalation, every_seconds: float) -> Sweep:
    return Sweep("escalation", escalation.sweep, every_seconds)
