"""Range requests on file and recording downloads, driven by `curl -r` as a media player's
seek would be: 206 with exactly the asked bytes, 416 past the end, strangers still refused.

Local disk (files sealed in 64 KiB AES-GCM chunks: ranges across chunk boundaries) on SQLite
and PostgreSQL, and S3 (moto's standalone server, see world.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from world import Person, World

pytestmark = pytest.mark.parametrize("server", ["sqlite", "postgresql", "sqlite-s3"], indirect=True)

CHUNK = 64 * 1024
# A PDF of a little over three sealed chunks, with bytes that differ everywhere.
DOCUMENT = b"%PDF-1.4\n" + os.urandom(3 * CHUNK + 1234)


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


async def curl(url: str, *args: str) -> Fetched:
    """`curl -s -D <headers> <args> url`: the status, headers (lower-cased) and body."""
    curl_path = shutil.which("curl")
    if curl_path is None:
        if os.environ.get("CI"):
            pytest.fail("curl is required in CI")
        pytest.skip("curl is not installed")
    process = await asyncio.create_subprocess_exec(
        curl_path, "-s", "-D", "/dev/stderr", *args, url,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    body, head = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, head
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if ":" in line)
    }
    return Fetched(status, headers, body)


async def uploaded_document(world: World) -> tuple[Person, str, str]:
    """The patient, the signed link and the file id of a document in a new consultation."""
    patient, _doctor, conversation = await world.consultation()
    response = await patient.post(
        "/api/v1/chat/messages/upload",
        data={"conversationId": conversation, "fileType": "FILE"},
        files={"file": ("scan.pdf", DOCUMENT, "application/pdf")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return patient, absolute(world, body["fileUrl"]), body["fileId"]


def absolute(world: World, url: str) -> str:
    return url if url.startswith("http") else world.server.base_url + url


async def test_a_player_seeks_anywhere_in_a_file(world: World) -> None:
    _, url, _ = await uploaded_document(world)
    size = len(DOCUMENT)
    whole = await curl(url)
    assert whole.status == 200 and whole.body == DOCUMENT
    assert whole.headers["accept-ranges"] == "bytes"
    for asked, start, end in [
        ("0-99", 0, 99),
        (f"{CHUNK - 10}-{CHUNK + 9}", CHUNK - 10, CHUNK + 9),  # across a sealed-chunk boundary
        (f"{CHUNK}-{2 * CHUNK - 1}", CHUNK, 2 * CHUNK - 1),  # exactly one chunk
        (f"{2 * CHUNK + 5}-", 2 * CHUNK + 5, size - 1),  # to the end (the last, short chunk)
        ("-700", size - 700, size - 1),  # the last 700 bytes
        (f"100-{size + 5000}", 100, size - 1),  # an end past the file is cut to the file
    ]:
        part = await curl(url, "-r", asked)
        assert part.status == 206, (asked, part.body[:200])
        assert part.body == DOCUMENT[start : end + 1], asked
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert int(part.headers["content-length"]) == end - start + 1


async def test_a_range_past_the_end_is_416_and_odd_ranges_get_the_whole_file(
    world: World,
) -> None:
    _, url, _ = await uploaded_document(world)
    size = len(DOCUMENT)
    past = await curl(url, "-r", f"{size}-{size + 10}")
    assert past.status == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    assert b"RANGE_NOT_SATISFIABLE" in past.body
    # Several ranges, or a stale If-Range: the whole file, as RFC 9110 allows.
    several = await curl(url, "-r", "0-9,20-29")
    assert several.status == 200 and several.body == DOCUMENT
    stale = await curl(url, "-r", "0-9", "-H", 'If-Range: "something-else"')
    assert stale.status == 200 and stale.body == DOCUMENT
    current = await curl(url, "-r", "0-9", "-H", f"If-Range: {stale.headers['etag']}")
    assert current.status == 206 and current.body == DOCUMENT[:10]


async def test_a_range_with_a_bearer_token_is_for_participants_only(world: World) -> None:
    patient, _url, file_id = await uploaded_document(world)
    stranger = await world.patient("Người lạ")
    path = f"{world.server.base_url}/api/v1/chat/files/{file_id}"
    refused = await curl(path, "-r", "0-9", "-H", f"Authorization: Bearer {stranger.token}")
    assert refused.status == 404 and DOCUMENT[:10] not in refused.body
    mine = await curl(path, "-r", "0-9", "-H", f"Authorization: Bearer {patient.token}")
    assert mine.status == 206 and mine.body == DOCUMENT[:10]


@pytest.fixture(scope="module")
def short_webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Three seconds of VP8 + Opus WebM from Debian's ffmpeg (what MediaRecorder makes)."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is required in CI (scripts/test-deps.sh installs it)")
        pytest.skip("ffmpeg not installed; run scripts/test-deps.sh")
    out: Path = tmp_path_factory.mktemp("media") / "call.webm"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", "3", "-c:v", "libvpx", "-b:v", "200k", "-c:a", "libopus", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out.read_bytes()


async def test_a_recording_can_be_sought(world: World, short_webm: bytes) -> None:
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    stored = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, short_webm)
    assert stored.status_code == 201, stored.text
    await call.doctor.ends_call(call.room_id)
    ready = await call.patient_socket.events.next("recording_ready", timeout=60)
    url = absolute(world, ready["url"])
    whole = await curl(url)
    assert whole.status == 200 and len(whole.body) == ready["size"]
    size = ready["size"]
    tail = await curl(url, "-r", f"{size // 2}-")
    assert tail.status == 206
    assert tail.body == whole.body[size // 2 :]
    assert tail.headers["content-range"] == f"bytes {size // 2}-{size - 1}/{size}"
    assert tail.headers["content-type"] == "video/webm"
    stranger = await world.doctor("BS. Người Lạ")
    path = f"{world.server.base_url}/api/v1/video-call/rooms/{call.room_id}"
    path += f"/recordings/{recording_id}/file"
    refused = await curl(path, "-r", "0-9", "-H", f"Authorization: Bearer {stranger.token}")
    assert refused.status == 404
    mine = await curl(path, "-r", "0-9", "-H", f"Authorization: Bearer {call.patient.token}")
    assert mine.status == 206 and mine.body == whole.body[:10]
