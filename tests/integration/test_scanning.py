"""Malware scanning with a real ClamAV daemon (clamd, INSTREAM), started by the test with a tiny
local signature database holding the EICAR test signature (no signature download here).

Files are PENDING until scanned, CLEAN ones download, INFECTED ones are quarantined and never
served; participants get `file_status`; a pending scan job survives a restart and runs then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from world import EICAR, LiveServer, World, find_clamd, free_port, start_clamd, start_server

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n"


@pytest.fixture(scope="module")
def clamd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if find_clamd() is None:
        message = "clamd not installed: run scripts/test-deps.sh (installs clamav-daemon)"
        if os.environ.get("CI"):
            pytest.fail(f"clamd is required in CI: {message}")
        pytest.skip(message)
    with start_clamd(tmp_path_factory.mktemp("clamd")) as url:
        yield url


@pytest.fixture(scope="module")
def scanning_server(
    clamd_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("medtalk-scanning")
    with start_server(data_dir, "", backend="sqlite", clamd_url=clamd_url) as live:
        yield live


@pytest.fixture
async def world(scanning_server: LiveServer) -> World:  # type: ignore[override]
    async with World(scanning_server) as world:
        yield world  # type: ignore[misc]


async def upload_pdf(person, conversation: str, data: bytes) -> dict:  # type: ignore[no-untyped-def,type-arg]
    response = await person.post(
        "/api/v1/chat/messages/upload",
        data={"conversationId": conversation, "fileType": "FILE"},
        files={"file": ("lab.pdf", data, "application/pdf")},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_eicar_is_quarantined_and_never_served(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation)
    body = await upload_pdf(patient, conversation, PDF + EICAR + b"\n%%EOF\n")
    assert body["fileStatus"] == "PENDING"
    status = await doctor_socket.events.next("file_status", timeout=30)
    assert status == {
        "fileId": body["fileId"],
        "messageId": body["messageId"],
        "conversationId": conversation,
        "status": "INFECTED",
    }
    # Not by the signed link handed out at upload, not by a participant's bearer token.
    by_link = await world.http.get(body["fileUrl"])
    assert by_link.status_code == 423
    assert by_link.json()["error"]["code"] == "FILE_QUARANTINED"
    by_token = await doctor.get(f"/api/v1/chat/files/{body['fileId']}")
    assert by_token.status_code == 423
    assert b"EICAR" not in by_token.content
    message = (await doctor.history(conversation))["messages"][0]
    assert message["fileStatus"] == "INFECTED" and message["fileUrl"] is None
    # A stranger learns nothing, not even that the file is quarantined.
    stranger = await world.patient("Người lạ")
    assert (await stranger.get(f"/api/v1/chat/files/{body['fileId']}")).status_code == 404


async def test_clean_file_becomes_downloadable(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket = await patient.connects()
    await patient_socket.join(conversation)
    document = PDF + b"lab results: normal\n%%EOF\n"
    body = await upload_pdf(patient, conversation, document)
    status = await patient_socket.events.next("file_status", timeout=30)
    assert status["status"] == "CLEAN" and status["fileId"] == body["fileId"]
    download = await world.http.get(body["fileUrl"])
    assert download.status_code == 200 and download.content == document
    assert (await doctor.history(conversation))["messages"][0]["fileStatus"] == "CLEAN"


async def test_pending_files_are_scanned_after_a_restart(clamd_url: str, tmp_path: Path) -> None:
    """Uploaded while clamd is unreachable: PENDING (423) and still so after the server
    stops; its durable scan job (an outbox row) runs after the restart and the real clamd
    clears it."""
    unreachable = f"tcp://127.0.0.1:{free_port()}"
    async with running_server(tmp_path, clamd_url=unreachable) as first, World(first) as world:
        patient, _doctor, conversation = await world.consultation()
        body = await upload_pdf(patient, conversation, PDF + b"%%EOF\n")
        file_url = f"/api/v1/chat/files/{body['fileId']}"
        pending = await patient.get(file_url)
        assert pending.status_code == 423
        assert pending.json()["error"]["code"] == "FILE_PENDING"
    async with running_server(tmp_path, clamd_url=clamd_url) as second, World(second) as world:
        patient.world = world
        # The scan job runs at start-up, before any socket could join: poll briefly.
        for _ in range(100):
            response = await patient.get(file_url)
            if response.status_code != 423:
                break
            await asyncio.sleep(0.1)
        assert response.status_code == 200


@contextlib.asynccontextmanager
async def running_server(data_dir: Path, **overrides: object) -> AsyncIterator[LiveServer]:
    """start_server from inside a test's event loop (it migrates with its own loop)."""
    with contextlib.ExitStack() as stack:
        live = await asyncio.to_thread(
            stack.enter_context, start_server(data_dir, "", backend="sqlite", **overrides)
        )
        try:
            yield live
        finally:
            await asyncio.to_thread(stack.close)
