"""Uploads and downloads: type from the bytes, size limits, encrypted on disk, signed links."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

from PIL import Image

from medtalk.core.crypto import sign
from world import World

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def upload(
    person, conversation: str, name: str, data: bytes, file_type: str | None = "IMAGE"
):  # type: ignore[no-untyped-def]
    form = {"conversationId": conversation} | ({"fileType": file_type} if file_type else {})
    return await person.post(
        "/api/v1/chat/messages/upload", data=form, files={"file": (name, data, "image/png")}
    )


async def test_image_upload_reaches_the_doctor_and_downloads_by_signed_link(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation)
    image = png_bytes()
    response = await upload(patient, conversation, "xray-result.png", image)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["fileName"] == "xray-result.png"
    assert body["fileSize"] == len(image)
    assert uuid.UUID(body["messageId"])
    received = await doctor_socket.events.next("message_received")
    assert received["contentType"] == "IMAGE"
    assert received["fileName"] == "xray-result.png"
    # The link works without a bearer header (an <img src>), and serves the exact bytes.
    download = await world.http.get(received["fileUrl"])
    assert download.status_code == 200
    assert download.content == image
    assert download.headers["content-type"] == "image/png"
    history = await doctor.history(conversation)
    assert history["messages"][0]["fileUrl"]


async def test_files_are_encrypted_on_disk(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    marker = b"PATIENT-NAME-NGUYEN-THI-C" * 4
    document = PDF + marker
    assert (await upload(patient, conversation, "lab.pdf", document, "FILE")).status_code == 201
    stored = [p for p in Path(world.server.settings.data_dir, "files").rglob("*") if p.is_file()]
    assert stored
    assert all(marker not in p.read_bytes() and b"%PDF" not in p.read_bytes() for p in stored)


async def test_spoofed_and_mismatched_files_are_refused(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    spoofed = await upload(patient, conversation, "photo.png", ELF)
    assert spoofed.status_code == 415
    assert spoofed.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    mismatch = await upload(patient, conversation, "scan.png", PDF, "IMAGE")
    assert mismatch.status_code == 415
    bad_enum = await upload(patient, conversation, "scan.pdf", PDF, "SPREADSHEET")
    assert bad_enum.status_code == 422
    empty = await upload(patient, conversation, "empty.png", b"")
    assert empty.status_code == 422
    assert (await doctor.history(conversation))["messages"] == []


async def test_oversize_upload_is_refused(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    limit = world.server.settings.max_upload_bytes
    # Far over: refused by Content-Length before the body is read.
    huge = await upload(patient, conversation, "big.pdf", PDF + b"0" * (limit + 200_000), "FILE")
    assert huge.status_code == 413
    # Just over: caught while streaming, and the partial file is removed.
    just_over = await upload(patient, conversation, "big.pdf", PDF + b"0" * limit, "FILE")
    assert just_over.status_code == 413
    assert just_over.json()["error"]["code"] == "TOO_LARGE"
    assert (await doctor.history(conversation))["messages"] == []


async def test_strangers_cannot_upload_or_download(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    stranger = await world.patient("Người lạ")
    assert (await upload(stranger, conversation, "x.png", png_bytes())).status_code == 404
    body = (await upload(patient, conversation, "x.png", png_bytes())).json()
    file_id = body["fileUrl"].split("/files/")[1].split("?")[0]
    assert (await stranger.get(f"/api/v1/chat/files/{file_id}")).status_code == 404
    assert (await patient.get(f"/api/v1/chat/files/{file_id}")).status_code == 200
    assert (await world.http.get(f"/api/v1/chat/files/{file_id}")).status_code == 401


async def test_expired_and_tampered_links_fail(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    body = (await upload(patient, conversation, "x.png", png_bytes())).json()
    file_id = body["fileUrl"].split("/files/")[1].split("?")[0]
    tampered = body["fileUrl"][:-2] + ("AA" if not body["fileUrl"].endswith("AA") else "BB")
    assert (await world.http.get(tampered)).status_code == 404
    past = int(time.time()) - 10
    signature = sign(world.server.settings.link_secret, f"{file_id}:{past}")
    expired = f"/api/v1/chat/files/{file_id}?expires={past}&sig={signature}"
    assert (await world.http.get(expired)).status_code == 404
    other_file = f"/api/v1/chat/files/{uuid.uuid4()}?" + body["fileUrl"].split("?")[1]
    assert (await world.http.get(other_file)).status_code == 404
