"""Voice messages and video clips through the upload endpoint: accepted by their bytes
(Ogg, WebM, M4A, MP3, WAV; MP4/WebM video), measured by ffprobe, refused when unreadable.

The media are made by Debian's ffmpeg; the live WebM is written to a pipe, as MediaRecorder
writes it (no duration, no cues), and must come back with a duration players can use.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from world import World

pytestmark = pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)

SECONDS = 3.0
SINE = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}"]
PICTURE = ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={SECONDS}"]
AUDIO_FORMATS = {
    "voice.ogg": [*SINE, "-c:a", "libopus", "-f", "ogg"],
    "voice.m4a": [*SINE, "-c:a", "aac", "-f", "ipod"],
    "voice.mp3": [*SINE, "-c:a", "libmp3lame", "-f", "mp3"],
    "voice.wav": [*SINE, "-c:a", "pcm_s16le", "-f", "wav"],
    "live.webm": [*SINE, "-c:a", "libopus", "-f", "webm"],  # to a pipe: no duration
}


def ffmpeg(arguments: list[str], out: Path) -> bytes:
    """ffmpeg's output, written to a file; a "live" name goes to a pipe instead, so WebM gets
    no duration and no cues, as MediaRecorder writes it."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is required in CI (scripts/test-deps.sh installs it)")
        pytest.skip("ffmpeg/ffprobe not installed; run scripts/test-deps.sh")
    target = "pipe:1" if out.name.startswith("live") else str(out)
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", *arguments, target]
    piped = subprocess.run(command, check=True, capture_output=True, timeout=60).stdout
    return piped if target == "pipe:1" else out.read_bytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("voice")
    made = {name: ffmpeg(arguments, folder / name) for name, arguments in AUDIO_FORMATS.items()}
    clip = [*PICTURE, *SINE, "-c:v", "libvpx", "-c:a", "libopus", "-f", "webm"]
    made["clip.webm"] = ffmpeg(clip, folder / "clip.webm")
    return made


def leftovers(data_dir: Path) -> list[Path]:
    return list(Path(data_dir, "media-work").glob("*"))


def probed_duration(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "downloaded"
    path.write_bytes(data)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return str(json.loads(result.stdout)["format"].get("duration", "N/A"))


async def upload(person, conversation: str, name: str, data: bytes, file_type: str):  # type: ignore[no-untyped-def]
    return await person.post(
        "/api/v1/chat/messages/upload",
        data={"conversationId": conversation, "fileType": file_type},
        files={"file": (name, data)},
    )


async def test_voice_messages_in_every_format_carry_their_duration(
    world: World, media: dict[str, bytes], tmp_path: Path
) -> None:
    patient, doctor, conversation = await world.consultation()
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation)
    for name in AUDIO_FORMATS:
        response = await upload(patient, conversation, name, media[name], "AUDIO")
        assert response.status_code == 201, (name, response.text)
        body = response.json()
        assert body["fileType"] == "AUDIO" and body["mimeType"].startswith("audio/"), body
        assert abs(body["durationSeconds"] - SECONDS) < 0.2, (name, body["durationSeconds"])
        received = await doctor_socket.events.next("message_received")
        assert received["contentType"] == "AUDIO"
        assert received["durationSeconds"] == body["durationSeconds"]
    history = (await doctor.history(conversation))["messages"]
    assert [m["fileName"] for m in reversed(history)] == list(AUDIO_FORMATS)
    assert all(abs(m["durationSeconds"] - SECONDS) < 0.2 for m in history)
    # MediaRecorder's live WebM is stored with a duration and cues, so players can seek it.
    live = history[0]
    assert live["fileName"] == "live.webm"
    assert probed_duration(media["live.webm"], tmp_path) == "N/A"
    stored = await doctor.get(live["fileUrl"].split("?")[0])
    assert stored.headers["content-type"] == "audio/webm"
    assert abs(float(probed_duration(stored.content, tmp_path)) - SECONDS) < 0.2


async def test_unreadable_or_mislabelled_media_is_refused(
    world: World, media: dict[str, bytes]
) -> None:
    patient, doctor, conversation = await world.consultation()
    broken = media["voice.ogg"][:200] + os.urandom(4000)  # an Ogg header, then noise
    for name, data, file_type, expected in [
        ("broken.ogg", broken, "AUDIO", "could not"),
        ("clip.webm", media["clip.webm"], "AUDIO", "audio only"),
        ("voice.ogg", media["voice.ogg"], "VIDEO", None),  # Ogg is an audio type: 415
        ("voice.wav", b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 64, "AUDIO", "could not"),
    ]:
        response = await upload(patient, conversation, name, data, file_type)
        error = response.json()["error"]
        if expected is None:
            assert response.status_code == 415, response.text
            continue
        assert response.status_code == 422, (name, response.text)
        assert error["code"] == "MEDIA_UNREADABLE" and expected in error["message"], error
    assert (await doctor.history(conversation))["messages"] == []
    assert leftovers(world.server.settings.data_dir) == [], "no plaintext media is left behind"


async def test_a_short_video_clip_goes_through_the_same_path(
    world: World, media: dict[str, bytes]
) -> None:
    patient, doctor, conversation = await world.consultation()
    response = await upload(patient, conversation, "clip.webm", media["clip.webm"], "VIDEO")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["fileType"] == "VIDEO" and body["mimeType"] == "video/webm"
    assert abs(body["durationSeconds"] - SECONDS) < 0.2
    limit = world.server.settings.max_upload_bytes
    too_big = media["clip.webm"] + b"\x00" * limit
    refused = await upload(patient, conversation, "long.webm", too_big, "VIDEO")
    assert refused.status_code == 413
    assert len((await doctor.history(conversation))["messages"]) == 1
