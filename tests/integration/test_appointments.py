"""Appointments are bound to their patient and doctor by the platform, not by whoever names
them first (issue 16). The platform's appointment API does not exist here, so a small HTTP
server of the test's own plays it (real HTTP on loopback, the documented request and answer)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from world import LiveServer, World, start_server

PLATFORM_TOKEN = "test-only-platform-token"


@dataclass
class Platform:
    """Bookings the platform knows, and the requests it received."""

    url: str
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    down: bool = False


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    state = Platform(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            state.requests.append((self.path, self.headers.get("Authorization")))
            appointment = self.path.rsplit("/", 1)[-1]
            booking = state.bookings.get(appointment)
            if state.down:
                self.send_response(502)
                self.end_headers()
                return
            self.send_response(200 if booking else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(booking or {"error": "not found"}).encode())

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def booked_server(
    platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("medtalk-appointments")
    with start_server(
        data_dir,
        "",
        backend="sqlite",
        appointment_api_url=f"{platform.url}/api/appointments/{{appointmentId}}",
        appointment_api_token=PLATFORM_TOKEN,
    ) as live:
        yield live


async def test_another_patient_cannot_squat_a_booked_appointment(
    platform: Platform, booked_server: LiveServer
) -> None:
    async with World(booked_server) as world:
        patient, doctor = await world.patient("Trần Thị Bình"), await world.doctor()
        squatter = await world.patient("Kẻ mạo danh")
        appointment = str(uuid.uuid4())
        platform.bookings[appointment] = {
            "patientId": str(patient.id),
            "doctorId": str(doctor.id),
            "scheduledTime": "2031-01-01T09:00:00Z",
        }
        body = {"doctorId": str(doctor.id), "appointmentId": appointment}
        # The squatter names the appointment (and its right doctor) first: refused.
        squat = await squatter.post("/api/v1/chat/conversations/create", json=body)
        assert squat.status_code == 404, squat.text
        assert platform.requests[-1] == (
            f"/api/appointments/{appointment}",
            f"Bearer {PLATFORM_TOKEN}",
        )
        # The booked patient still gets the appointment, and the doctor's call rings them.
        booked = await patient.post("/api/v1/chat/conversations/create", json=body)
        assert booked.status_code == 201, booked.text
        socket_ = await patient.connects()
        room = await doctor.creates_room(appointmentId=appointment)
        assert room["conversationId"] == booked.json()["conversationId"]
        incoming = await socket_.events.next("call_incoming")
        assert incoming["roomId"] == room["roomId"]
        # An appointment the platform does not know is no appointment.
        unknown = {"doctorId": str(doctor.id), "appointmentId": str(uuid.uuid4())}
        assert (
            await patient.post("/api/v1/chat/conversations/create", json=unknown)
        ).status_code == 404


async def test_a_doctor_naming_another_doctors_appointment_is_refused(
    platform: Platform, booked_server: LiveServer
) -> None:
    async with World(booked_server) as world:
        patient, doctor = await world.patient(), await world.doctor()
        other_doctor = await world.doctor("BS. Lê Văn C")
        appointment = str(uuid.uuid4())
        platform.bookings[appointment] = {"patientId": str(patient.id), "doctorId": str(doctor.id)}
        wrong = await other_doctor.post(
            "/api/v1/chat/conversations/create",
            json={"patientId": str(patient.id), "appointmentId": appointment},
        )
        assert wrong.status_code == 404


async def test_platform_down_is_a_clear_503_not_a_500(
    platform: Platform, booked_server: LiveServer
) -> None:
    async with World(booked_server) as world:
        patient, doctor = await world.patient(), await world.doctor()
        platform.down = True
        try:
            response = await patient.post(
                "/api/v1/chat/conversations/create",
                json={"doctorId": str(doctor.id), "appointmentId": str(uuid.uuid4())},
            )
        finally:
            platform.down = False
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "UNAVAILABLE"


async def test_without_the_platform_only_doctors_bind_when_so_configured(
    tmp_path: Path,
) -> None:
    """No appointment API and patients may not bind (the production default): a patient
    cannot claim a new appointment id (they could squat one); its doctor can."""
    with start_server(tmp_path, "", backend="sqlite", appointments_bound_by_patients=False) as live:
        async with World(live) as world:
            patient, doctor = await world.patient(), await world.doctor()
            appointment = str(uuid.uuid4())
            by_patient = await patient.post(
                "/api/v1/chat/conversations/create",
                json={"doctorId": str(doctor.id), "appointmentId": appointment},
            )
            assert by_patient.status_code == 404
            by_doctor = await doctor.post(
                "/api/v1/chat/conversations/create",
                json={"patientId": str(patient.id), "appointmentId": appointment},
            )
            assert by_doctor.status_code == 201, by_doctor.text
            # Now bound, the booked patient may name it; the room rings them.
            again = await patient.post(
                "/api/v1/chat/conversations/create",
                json={"doctorId": str(doctor.id), "appointmentId": appointment},
            )
            assert again.status_code == 201, again.text


def test_production_defaults_to_doctor_only_binding() -> None:
    from medtalk.settings import Settings

    assert Settings(mode="dev").patients_bind_appointments is True
    production = Settings.model_construct(mode="production", appointments_bound_by_patients=None)
    assert production.patients_bind_appointments is False
