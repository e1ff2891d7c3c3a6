"""Who an appointment is between, as the platform's booking system says (issue 16).

Appointments live in the platform's booking system; medtalk keeps a binding (appointment ->
patient, doctor) the first time one is named. Where that binding comes from:

- `MEDTALK_APPOINTMENT_API_URL` set: medtalk asks the platform. `GET <url>` with
  `{appointmentId}` replaced, `Authorization: Bearer <MEDTALK_APPOINTMENT_API_TOKEN>`, answers
  `200 {"patientId", "doctorId", "scheduledTime"?}` or `404`. A conversation or room naming an
  appointment of other people gets 404, so nobody can squat an appointment id.
- not set (development): trust on first use, by doctors only in production mode; see
  docs/security.md.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx

from medtalk.core.clock import parse_iso
from medtalk.core.errors import Unavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Booking:
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    scheduled_time: datetime | None = None


class PlatformAppointments:
    """The documented hook to the platform's appointment API."""

    def __init__(self, url: str, token: str, timeout_seconds: float = 5.0) -> None:
        if "{appointmentId}" not in url:
            raise ValueError("MEDTALK_APPOINTMENT_API_URL must contain {appointmentId}")
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout_seconds

    async def lookup(self, appointment_id: uuid.UUID) -> Booking | None:
        """The booking, None when the platform knows no such appointment."""
        url = self._url.replace("{appointmentId}", str(appointment_id))
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(url, headers=self._headers)
        except httpx.HTTPError as error:
            logger.warning("appointment API unreachable: %s", type(error).__name__)
            raise Unavailable("the appointment service does not answer") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            logger.warning("appointment API answered %s", response.status_code)
            raise Unavailable("the appointment service does not answer")
        try:
            body = response.json()
            scheduled = body.get("scheduledTime")
            return Booking(
                patient_id=uuid.UUID(str(body["patientId"])),
                doctor_id=uuid.UUID(str(body["doctorId"])),
                scheduled_time=parse_iso(scheduled) if scheduled else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("appointment API answered an unreadable body")
            raise Unavailable("the appointment service answered unreadably") from None
