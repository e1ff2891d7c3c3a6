"""Call recording with consent (docs/recording.md) against a live server: consent over
Socket.IO, chunk uploads, assembly of a real WebM by the background job, downloads, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from medtalk.settings import DEV_JIBRI_SECRET, Settings
from world import LiveCall, LiveServer, World, start_server, unavailable

ROOMS = "/api/v1/video-call/rooms"
SECONDS = 10.0


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 10-second WebM with one VP8 video and one Opus audio stream, made by Debian's ffmpeg
    (what a browser's MediaRecorder produces, byte for byte in kind)."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        unavailable("ffmpeg/ffprobe are not installed (scripts/test-deps.sh installs them)")
    out = tmp_path_factory.mktemp("media") / "call.webm"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
         "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", str(SECONDS), "-c:v", "libvpx", "-b:v", "300k", "-c:a", "libopus", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out.read_bytes()


def pieces(data: bytes, count: int) -> list[bytes]:
    size = -(-len(data) // count)
    return [data[start : start + size] for start in range(0, len(data), size)]


def probe(data: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "downloaded.webm"
    path.write_bytes(data)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    info: dict[str, Any] = json.loads(result.stdout)
    return info


def assert_ten_second_call(info: dict[str, Any]) -> None:
    kinds = sorted(stream["codec_type"] for stream in info["streams"])
    assert kinds == ["audio", "video"], kinds
    assert abs(float(info["format"]["duration"]) - SECONDS) <= 1.0, info["format"]


async def chunk_rows(server: LiveServer, recording_id: str) -> int:
    rows = await server.sql(
        "SELECT count(*) FROM call_recording_chunks WHERE CAST(recording_id AS TEXT) IN (:a, :b)",
        a=recording_id,
        b=recording_id.replace("-", ""),
    )
    return int(rows[0][0])


async def recording_row(server: LiveServer, recording_id: str) -> Any:
    rows = await server.sql(
        "SELECT status, consented_by, consent_at, stopped_by, stopped_at, declined_at "
        "FROM call_recordings WHERE CAST(id AS TEXT) IN (:a, :b)",
        a=recording_id,
        b=recording_id.replace("-", ""),
    )
    return rows[0]


def same_id(value: Any, person_id: Any) -> bool:
    return str(value).replace("-", "") == person_id.hex


# --- consent -------------------------------------------------------------------------------


async def test_doctor_asks_patient_consents_both_see_it_run_and_either_stops(
    world: World, server: LiveServer
) -> None:
    call = await world.call_in_progress()
    request = await call.patient_socket.call("recording_request", {"roomId": call.room_id})
    assert request["error"]["code"] == "FORBIDDEN"  # only the doctor asks

    ack = await call.doctor_socket.call("recording_request", {"roomId": call.room_id})
    assert ack["status"] == "REQUESTED" and ack["roomId"] == call.room_id
    prompt = await call.patient_socket.events.next("recording_consent_requested")
    assert prompt == {
        "roomId": call.room_id,
        "recordingId": ack["recordingId"],
        "requestedBy": str(call.doctor.id),
        "requestedByName": call.doctor.name,
    }
    await call.doctor_socket.events.none("recording_consent_requested", within=0.2)
    answer = {"roomId": call.room_id, "accepted": True}
    refused = await call.doctor_socket.call("recording_consent", answer)
    assert refused["error"]["code"] == "FORBIDDEN"  # the doctor cannot consent for the patient

    consent = await call.patient_socket.call("recording_consent", answer)
    assert consent == {
        "roomId": call.room_id,
        "recordingId": ack["recordingId"],
        "status": "RECORDING",
    }
    for socket_ in (call.doctor_socket, call.patient_socket):
        started = await socket_.events.next("recording_started")
        assert started["recordingId"] == ack["recordingId"] and started["startedAt"].endswith("Z")
    again = await call.doctor_socket.call("recording_request", {"roomId": call.room_id})
    assert again["error"]["code"] == "RECORDING_ACTIVE"

    # The patient withdraws consent.
    stop = await call.patient_socket.call("recording_stop", {"roomId": call.room_id})
    assert stop["status"] == "STOPPED"
    for socket_ in (call.doctor_socket, call.patient_socket):
        stopped = await socket_.events.next("recording_stopped")
        assert stopped["recordingId"] == ack["recordingId"]
        assert stopped["stoppedBy"] == str(call.patient.id)
    row = await recording_row(server, ack["recordingId"])
    assert same_id(row.consented_by, call.patient.id) and row.consent_at is not None
    assert same_id(row.stopped_by, call.patient.id) and row.stopped_at is not None

    # Nothing was uploaded, so nothing is assembled; the job says so.
    failed = await call.doctor_socket.events.next("recording_failed", timeout=15)
    assert failed == {
        "roomId": call.room_id,
        "recordingId": ack["recordingId"],
        "reason": "NO_MEDIA",
    }


async def test_recording_needs_a_call_in_progress(world: World) -> None:
    patient, doctor, room = await world.video_consultation()
    socket_ = await doctor.connects()
    await doctor.joins_room(room["roomId"])  # the patient has not joined yet
    ack = await socket_.call("recording_request", {"roomId": room["roomId"]})
    assert ack["error"]["code"] == "CALL_NOT_IN_PROGRESS"
    stranger = await world.doctor("BS. Người Lạ")
    stranger_socket = await stranger.connects()
    ack = await stranger_socket.call("recording_request", {"roomId": room["roomId"]})
    assert ack["error"]["code"] == "NOT_FOUND"


async def test_declined_consent_refuses_chunks_and_leaves_no_recording(
    world: World, server: LiveServer, webm: bytes
) -> None:
    call = await world.call_in_progress()
    recording_id = await call.doctor_asks_to_record()
    # Asked but not answered yet: no media is accepted.
    early = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, webm[:4096])
    assert early.status_code == 409 and early.json()["error"]["code"] == "NO_ACTIVE_RECORDING"

    assert (await call.patient_answers(False))["status"] == "DECLINED"
    for socket_ in (call.doctor_socket, call.patient_socket):
        declined = await socket_.events.next("recording_declined")
        assert declined == {"roomId": call.room_id, "recordingId": recording_id}
    refused = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, webm[:4096])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "NO_ACTIVE_RECORDING"
    assert await chunk_rows(server, recording_id) == 0

    ended = await call.doctor.ends_call(call.room_id)
    assert ended["recording"] == {"available": False, "url": None}
    status = await call.patient.recording(call.room_id, recording_id)
    assert status["status"] == "DECLINED" and status["chunks"] == [] and status["url"] is None
    await call.doctor_socket.events.none("recording_ready", within=2.0)
    assert (await call.doctor.ends_call(call.room_id))["recording"]["available"] is False
    row = await recording_row(server, recording_id)
    assert row.status == "DECLINED" and row.consent_at is None and row.declined_at is not None


async def test_a_chunk_sent_twice_is_stored_once(
    world: World, server: LiveServer, webm: bytes
) -> None:
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    first, second = pieces(webm, 2)
    stored = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, first)
    assert stored.status_code == 201, stored.text
    assert stored.json() == {
        "recordingId": recording_id, "index": 0, "size": len(first), "duplicate": False
    }  # fmt: skip
    again = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, first)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert (
        await call.doctor.uploads_chunk(call.room_id, recording_id, 1, second)
    ).status_code == 201
    status = await call.doctor.recording(call.room_id, recording_id)
    assert status["status"] == "RECORDING"
    assert status["chunks"] == [0, 1] and status["receivedBytes"] == len(webm)
    assert await chunk_rows(server, recording_id) == 2
    if server.backend == "sqlite":  # local file store: chunks are sealed, not plain WebM
        stored_objects = [
            path.read_bytes() for path in (server.settings.data_dir / "files").rglob("*")
            if path.is_file()
        ]  # fmt: skip
        assert not any(first[:64] in blob for blob in stored_objects)


async def test_chunks_are_size_limited_and_must_be_media(world: World, webm: bytes) -> None:
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    not_media = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, b"%PDF-1.7 " * 10)
    assert not_media.status_code == 422 and not_media.json()["error"]["code"] == "NOT_MEDIA"
    limit = world.server.settings.recording_chunk_max_bytes
    huge = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, webm[:4] + bytes(limit))
    assert huge.status_code == 413
    assert (await call.doctor.recording(call.room_id, recording_id))["chunks"] == []


async def test_a_stranger_cannot_upload_chunks_or_download_the_recording(
    world: World, webm: bytes
) -> None:
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    stranger = await world.doctor("BS. Người Lạ")
    refused = await stranger.uploads_chunk(call.room_id, recording_id, 0, webm)
    assert refused.status_code == 404
    by_patient = await call.patient.uploads_chunk(call.room_id, recording_id, 0, webm)
    assert by_patient.status_code == 403  # only the recorder (the doctor who asked) uploads
    path = f"{ROOMS}/{call.room_id}/recordings/{recording_id}"
    assert (await stranger.get(path)).status_code == 404

    assert (await call.doctor.uploads_chunk(call.room_id, recording_id, 0, webm)).status_code == 201
    await call.doctor.ends_call(call.room_id)
    ready = await call.patient_socket.events.next("recording_ready", timeout=60)
    assert (await stranger.get(f"{path}/file")).status_code == 404
    assert (await world.http.get(f"{path}/file")).status_code == 401  # no credentials at all
    forged = ready["url"].rsplit("sig=", 1)[0] + "sig=AAAA"
    assert (await world.http.get(forged)).status_code == 404
    admin = await world.admin()
    assert (await admin.get(f"{path}/file")).status_code == 200
    assert (await call.patient.get(f"{path}/file")).status_code == 200


# --- assembly -------------------------------------------------------------------------------


async def test_a_ten_second_call_assembles_into_one_webm_with_video_and_audio(
    world: World, server: LiveServer, webm: bytes, tmp_path: Path
) -> None:
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    chunks = pieces(webm, 7)
    # Out of order, as retries may deliver them: the index decides the order.
    for index in [1, 0, 3, 2, 6, 5, 4]:
        response = await call.doctor.uploads_chunk(call.room_id, recording_id, index, chunks[index])
        assert response.status_code == 201, response.text

    ended = await call.doctor.ends_call(call.room_id)
    assert ended["recording"] == {"available": False, "url": None}
    for socket_ in (call.doctor_socket, call.patient_socket):
        stopped = await socket_.events.next("recording_stopped")
        assert stopped["stoppedBy"] is None  # the call ended
    ready = await call.patient_socket.events.next("recording_ready", timeout=60)
    doctor_ready = await call.doctor_socket.events.next("recording_ready", timeout=5)
    assert ready["recordingId"] == doctor_ready["recordingId"] == recording_id
    assert abs(ready["durationSeconds"] - SECONDS) <= 1.0
    assert ready["size"] > 0

    # The signed link opens it without a bearer header (a <video src>).
    download = await world.http.get(ready["url"])  # world.http sends no credentials
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "video/webm"
    assert len(download.content) == ready["size"]
    assert_ten_second_call(probe(download.content, tmp_path))

    again = await call.doctor.ends_call(call.room_id)
    assert again["recording"]["available"] is True and "sig=" in again["recording"]["url"]
    status = await call.patient.recording(call.room_id, recording_id)
    assert status["status"] == "READY" and status["chunks"] == []  # chunks gone once assembled
    rows = await server.sql(
        "SELECT has_recording, recording_url FROM video_call_rooms WHERE room_name = :name",
        name=call.room["roomName"],
    )
    assert rows[0][0] and rows[0][1].endswith(f"/recordings/{recording_id}/file")
    assert await chunk_rows(server, recording_id) == 0
    audited = await server.sql(
        "SELECT action, detail FROM audit_log WHERE object_id = :id ORDER BY seq", id=recording_id
    )
    assert [row[0] for row in audited] == [
        "recording.requested",
        "recording.consent_given",
        "recording.stopped",
        "recording.download",
    ]

    # The patient's data export (access request) carries the recording, byte for byte.
    exported = await call.patient.get("/api/v1/chat/export")
    assert exported.status_code == 200, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(f"/recordings/{recording_id}.webm")]
        assert archive.read(name) == download.content
    assert audited[2][1] == "call ended" and audited[3][1] == "signed link"


async def test_a_recorder_that_restarts_continues_the_same_recording(
    world: World, webm: bytes, tmp_path: Path
) -> None:
    """A reloaded tab starts a new MediaRecorder (a new WebM header) and carries on with the
    next index from the status endpoint: both parts end up in one file, one after the other."""
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    for index, chunk in enumerate(pieces(webm, 3)):
        await call.doctor.uploads_chunk(call.room_id, recording_id, index, chunk)
    status = await call.doctor.recording(call.room_id, recording_id)
    resume_at = max(status["chunks"]) + 1
    for offset, chunk in enumerate(pieces(webm, 2)):
        response = await call.doctor.uploads_chunk(
            call.room_id, recording_id, resume_at + offset, chunk
        )
        assert response.status_code == 201
    await call.patient_socket.call("recording_stop", {"roomId": call.room_id})
    ready = await call.doctor_socket.events.next("recording_ready", timeout=60)
    info = probe((await call.doctor.get(ready["url"])).content, tmp_path)
    assert abs(float(info["format"]["duration"]) - 2 * SECONDS) <= 1.0, info["format"]
    assert sorted(stream["codec_type"] for stream in info["streams"]) == ["audio", "video"]


JIBRI_SECRET = "test-only-jibri-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def jitsi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Jibri records Jitsi rooms only; its finalize script holds the configured secret."""
    jitsi = {"video_provider": "jitsi", "jitsi_domain": "meet.example.org"}
    jitsi |= {
        "jitsi_app_id": "medtalk-test",
        "jitsi_app_secret": "test-only-jitsi-secret-0123456789abcdef",
    }
    with start_server(
        tmp_path_factory.mktemp("jibri"), "", backend="sqlite", jibri_secret=JIBRI_SECRET, **jitsi
    ) as live:
        yield live


async def test_jibri_posts_the_file_of_a_consented_recording(
    jitsi_server: LiveServer, webm: bytes, tmp_path: Path
) -> None:
    async with World(jitsi_server) as world:
        call = await world.call_in_progress()
        jibri = f"{ROOMS}/{call.room['roomName']}/recordings/jibri"  # Jibri knows the name
        secret = {"X-Jibri-Secret": JIBRI_SECRET, "Content-Type": "video/webm"}
        no_consent = await world.http.post(jibri, content=webm, headers=secret)
        assert no_consent.status_code == 409 and no_consent.json()["error"]["code"] == "NO_CONSENT"
        recording_id = await call.recording_runs()
        for wrong in ("not-the-secret", DEV_JIBRI_SECRET):
            refused = {**secret, "X-Jibri-Secret": wrong}
            assert (await world.http.post(jibri, content=webm, headers=refused)).status_code == 401
        posted = await world.http.post(jibri, content=webm, headers=secret)
        assert posted.status_code == 200, posted.text
        assert posted.json()["recordingId"] == recording_id
        ready = await call.doctor_socket.events.next("recording_ready", timeout=60)
        download = await call.doctor.get(ready["url"].split("?")[0])  # bearer works too
        assert_ten_second_call(probe(download.content, tmp_path))


def test_production_with_jitsi_refuses_the_dev_jibri_secret() -> None:
    import base64

    production: dict[str, Any] = {
        "mode": "production",
        "jwt_secret": "a-real-secret-0123456789abcdef0123456789",
        "link_secret": "another-real-secret-0123456789abcdef",
        "encryption_keys": "k1:" + base64.b64encode(b"k" * 32).decode(),
        "room_token_secret": "a-real-room-secret-0123456789abcdef",
        "audit_secret": "a-real-audit-secret-0123456789abcdef",
        "video_provider": "jitsi",
    }
    with pytest.raises(ValueError, match="JIBRI_SECRET"):
        Settings(**production)
    Settings(**production, jibri_secret="a-real-jibri-secret-0123456789abcdef")


# --- restart ------------------------------------------------------------------------------


@pytest.fixture
def slow_ffmpeg(tmp_path: Path) -> Iterator[Path]:
    """An ffmpeg that waits a minute before running (a stand-in that keeps assembly busy
    long enough to stop the server in the middle of it; the real ffmpeg does the work)."""
    script = tmp_path / "slow-ffmpeg"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "time.sleep(60)\n"
        "os.execvp('ffmpeg', ['ffmpeg', *sys.argv[1:]])\n"
    )
    script.chmod(0o755)
    yield script


async def wait_for_status(
    person: Any, call: LiveCall, recording_id: str, wanted: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = await person.recording(call.room_id, recording_id)
        if status["status"] == wanted or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)  # ffmpeg in a subprocess: polled


@contextlib.asynccontextmanager
async def running_server(data_dir: Path, **overrides: Any) -> AsyncIterator[LiveServer]:
    """start_server from inside the test's event loop (it migrates with asyncio.run)."""
    with contextlib.ExitStack() as stack:
        server = await asyncio.to_thread(
            stack.enter_context, start_server(data_dir, "", backend="sqlite", **overrides)
        )
        try:
            yield server
        finally:
            await asyncio.to_thread(stack.close)


async def test_a_restart_mid_assembly_resumes_it(
    tmp_path: Path, webm: bytes, slow_ffmpeg: Path
) -> None:
    data_dir = tmp_path / "data"
    quick = {"recording_assembly_lease_seconds": 2.0, "recording_poll_seconds": 0.5}
    slow = {"recording_ffmpeg": str(slow_ffmpeg), **quick}
    async with running_server(data_dir, **slow) as first, World(first) as world:
        call = await world.call_in_progress()
        recording_id = await call.recording_runs()
        for index, chunk in enumerate(pieces(webm, 4)):
            response = await call.doctor.uploads_chunk(call.room_id, recording_id, index, chunk)
            assert response.status_code == 201
        await call.doctor.ends_call(call.room_id)
        busy = await wait_for_status(call.doctor, call, recording_id, "ASSEMBLING")
        assert busy["status"] == "ASSEMBLING", busy
        await asyncio.sleep(0.5)  # well inside the slow ffmpeg's minute
    assert not list((data_dir / "recording-work").glob("*"))  # no plaintext left behind

    async with running_server(data_dir, **quick) as second, World(second) as world:
        call.doctor.world = world
        done = await wait_for_status(call.doctor, call, recording_id, "READY")
        assert done["status"] == "READY", done
        download = await call.doctor.get(done["url"].split("?")[0])
        assert download.status_code == 200
        assert_ten_second_call(probe(download.content, tmp_path))
