"""Uploads and downloads: type from the bytes, size limits, encrypted at rest, signed links,
metadata-free images with thumbnails.

Runs against SQLite and PostgreSQL with files on local disk, and against SQLite with files in
S3 ("sqlite-s3": moto's standalone S3 server on loopback, see world.py).
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from pathlib import Path

import boto3
import pillow_heif
import pytest
from PIL import Image

from medtalk.core.crypto import sign
from world import World

pytestmark = pytest.mark.parametrize("server", ["sqlite", "postgresql", "sqlite-s3"], indirect=True)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
MZ = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    + b"\x00" * 50
    + b"PE\x00\x00"
    + b"\x00" * 200
)


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def upload(  # type: ignore[no-untyped-def]
    person, conversation: str, name: str, data: bytes, file_type: str | None = "IMAGE"
):
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


async def test_files_are_encrypted_at_rest(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    marker = b"PATIENT-NAME-NGUYEN-THI-C" * 4
    document = PDF + marker
    assert (await upload(patient, conversation, "lab.pdf", document, "FILE")).status_code == 201
    settings = world.server.settings
    if settings.storage_url.startswith("s3://"):
        # S3: every object was put with server-side encryption requested.
        bucket = settings.storage_url.removeprefix("s3://").split("/")[0]
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
        )
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys and all(key.startswith("chat-files/") for key in keys)
        heads = [client.head_object(Bucket=bucket, Key=key) for key in keys]
        assert all(head["ServerSideEncryption"] == "AES256" for head in heads)
        return
    stored = _stored_objects(Path(settings.data_dir, "files"))
    assert stored
    assert all(marker not in blob and b"%PDF" not in blob for blob in stored)


def _stored_objects(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in root.rglob("*") if path.is_file()]


async def test_spoofed_and_mismatched_files_are_refused(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    spoofed = await upload(patient, conversation, "photo.png", ELF)
    assert spoofed.status_code == 415
    assert spoofed.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    windows_exe = await upload(patient, conversation, "photo.png", MZ, None)
    assert windows_exe.status_code == 415
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


def jpeg_with_gps(size: tuple[int, int] = (640, 480)) -> bytes:
    """A phone photo: EXIF with the camera make, GPS position, and orientation 6 (90° CW)."""
    image = Image.new("RGB", size, (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 42.0), 3: "E", 4: (105.0, 51.0, 12.0)}  # GPSInfo
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), comment=b"home")
    return buffer.getvalue()


async def test_photo_loses_its_gps_and_gets_a_thumbnail(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    photo = jpeg_with_gps()
    with Image.open(io.BytesIO(photo)) as original:
        assert original.getexif().get_ifd(0x8825), "the test photo carries a GPS position"
    response = await upload(patient, conversation, "rash.jpg", photo)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["fileStatus"] == "CLEAN" and body["thumbnailUrl"]
    download = await world.http.get(body["fileUrl"])
    assert download.status_code == 200 and download.headers["content-type"] == "image/jpeg"
    assert int(download.headers["content-length"]) == body["fileSize"] == len(download.content)
    with Image.open(io.BytesIO(download.content)) as stored:
        assert stored.format == "JPEG"
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info and "comment" not in stored.info
        assert stored.size == (480, 640), "orientation is applied, not lost"
    assert b"PhoneMaker" not in download.content
    # The doctor's history has the thumbnail link too, and it serves a small JPEG.
    message = (await doctor.history(conversation))["messages"][0]
    assert message["fileStatus"] == "CLEAN"
    thumbnail = await world.http.get(message["thumbnailUrl"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumbnail.content)) as small:
        assert max(small.size) <= 320 and small.size == (240, 320)
        assert dict(small.getexif()) == {}
    # With a bearer token instead of a signed link: participants only.
    file_id = body["fileId"]
    assert (await doctor.get(f"/api/v1/chat/files/{file_id}/thumbnail")).status_code == 200
    stranger = await world.patient("Người lạ")
    assert (await stranger.get(f"/api/v1/chat/files/{file_id}/thumbnail")).status_code == 404


def heic_with_gps(size: tuple[int, int] = (640, 480)) -> bytes:
    """An iPhone photo: HEIC (pillow-heif's encoder) with the EXIF of `jpeg_with_gps`; the
    orientation goes into the HEIF rotation box, as an iPhone writes it."""
    with Image.open(io.BytesIO(jpeg_with_gps(size))) as photo:
        exif = photo.getexif().tobytes()
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", size, (30, 120, 200))).save(out, quality=60, exif=exif)
    return out.getvalue()


async def test_iphone_heic_photo_is_stored_as_jpeg_without_gps_with_a_thumbnail(
    world: World,
) -> None:
    patient, doctor, conversation = await world.consultation()
    photo = heic_with_gps()
    assert photo[4:12] == b"ftypheic" and b"PhoneMaker" in photo
    response = await upload(patient, conversation, "IMG_0042.HEIC", photo)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mimeType"] == "image/jpeg" and body["fileName"] == "IMG_0042.jpg"
    assert body["fileType"] == "IMAGE" and body["thumbnailUrl"]
    download = await world.http.get(body["fileUrl"])
    assert download.status_code == 200 and download.headers["content-type"] == "image/jpeg"
    assert b"PhoneMaker" not in download.content
    with Image.open(io.BytesIO(download.content)) as stored:
        assert stored.format == "JPEG" and dict(stored.getexif()) == {}
        assert stored.size == (480, 640), "orientation is applied, not lost"
    message = (await doctor.history(conversation))["messages"][0]
    assert message["fileName"] == "IMG_0042.jpg"
    thumbnail = await world.http.get(message["thumbnailUrl"])
    with Image.open(io.BytesIO(thumbnail.content)) as small:
        assert small.format == "JPEG" and small.size == (240, 320)


async def test_documents_have_no_thumbnail(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    body = (await upload(patient, conversation, "lab.pdf", PDF, "FILE")).json()
    assert body["thumbnailUrl"] is None
    missing = await patient.get(f"/api/v1/chat/files/{body['fileId']}/thumbnail")
    assert missing.status_code == 404


async def test_undecodable_image_is_refused(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    broken = png_bytes()[:60]  # a PNG signature and header, then nothing
    response = await upload(patient, conversation, "broken.png", broken)
    assert response.status_code == 422
    assert "decoded" in response.json()["error"]["message"]
    assert (await doctor.history(conversation))["messages"] == []


async def test_thumbnail_and_file_links_are_not_interchangeable(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    body = (await upload(patient, conversation, "x.png", png_bytes())).json()
    query = body["fileUrl"].split("?")[1]
    borrowed = f"/api/v1/chat/files/{body['fileId']}/thumbnail?{query}"
    assert (await world.http.get(borrowed)).status_code == 404
    tampered = body["thumbnailUrl"][:-2] + (
        "AA" if not body["thumbnailUrl"].endswith("AA") else "BB"
    )
    assert (await world.http.get(tampered)).status_code == 404
    assert (await world.http.get(body["thumbnailUrl"])).status_code == 200


async def test_size_limits_depend_on_the_file_type(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    settings = world.server.settings
    assert settings.max_image_bytes < settings.max_upload_bytes
    size = (settings.max_image_bytes + settings.max_upload_bytes) // 2
    # Big for an image (refused while streaming, before any decoding) ...
    image = await upload(patient, conversation, "x.png", png_bytes()[:16] + b"0" * size)
    assert image.status_code == 413
    assert "IMAGE" in image.json()["error"]["message"]
    # ... but fine for a document.
    document = await upload(patient, conversation, "scan.pdf", PDF + b"0" * size, "FILE")
    assert document.status_code == 201
    assert len((await doctor.history(conversation))["messages"]) == 1


async def test_chunked_oversize_body_is_cut_off(world: World) -> None:
    """No Content-Length: the server answers 413 once the body passes the limit, without
    waiting for (or storing) the rest. We send a little over the limit and never finish."""
    patient, doctor, conversation = await world.consultation()
    boundary = "medtalk-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n'
        f"{conversation}\r\n--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode() + PDF
    host, port = world.server.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            (
                f"POST /api/v1/chat/messages/upload HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {patient.token}\r\nTransfer-Encoding: chunked\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
            ).encode()
        )
        piece = b"0" * (64 * 1024)
        pieces = [head] + [piece] * (world.server.settings.max_upload_bytes // len(piece) + 4)
        for chunk in pieces:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        # The body is unfinished (no last chunk): an answer now means the server gave up on it.
        status_line = await asyncio.wait_for(reader.readline(), 10)
        assert status_line.startswith(b"HTTP/1.1 413"), status_line
    finally:
        writer.close()
    assert (await doctor.history(conversation))["messages"] == []
