"""Jibri's upload needs a configured secret and a Jibri-recorded room (issue 16): the dev
secret printed in the source appended media to a p2p browser recording and stopped it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from medtalk.settings import DEV_JIBRI_SECRET, Settings
from world import LiveServer, World, start_server

ROOMS = "/api/v1/video-call/rooms"
WEBM_HEAD = b"\x1a\x45\xdf\xa3" + b"\x00" * 2048  # what the endpoint sniffs for
JIBRI_SECRET = "test-only-configured-jibri-secret-0123456789"


async def jibri_posts(world: World, room: dict[str, str], secret: str) -> tuple[int, str]:
    path = f"{ROOMS}/{room['roomName']}/recordings/jibri"
    headers = {"X-Jibri-Secret": secret, "Content-Type": "video/webm"}
    answer = await world.http.post(path, content=WEBM_HEAD, headers=headers)
    return answer.status_code, answer.json().get("error", {}).get("code", "")


async def test_the_dev_jibri_secret_does_nothing_on_embedded_defaults(world: World) -> None:
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    assert await jibri_posts(world, call.room, DEV_JIBRI_SECRET) == (401, "UNAUTHORIZED")
    assert await jibri_posts(world, call.room, "") == (401, "UNAUTHORIZED")
    assert (await call.doctor.recording(call.room_id, recording_id))["status"] == "RECORDING"
    await call.doctor_socket.events.none("recording_stopped")


@pytest.fixture(scope="module")
def p2p_with_jibri_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(
        tmp_path_factory.mktemp("p2p-jibri"), "", backend="sqlite", jibri_secret=JIBRI_SECRET
    ) as live:
        yield live


async def test_jibri_cannot_post_to_a_browser_recorded_room(
    p2p_with_jibri_secret: LiveServer,
) -> None:
    async with World(p2p_with_jibri_secret) as world:
        call = await world.call_in_progress()
        recording_id = await call.recording_runs()
        assert await jibri_posts(world, call.room, JIBRI_SECRET) == (409, "NOT_JIBRI")
        status = await call.doctor.recording(call.room_id, recording_id)
        assert status["status"] == "RECORDING" and status["chunks"] == []


def test_the_dev_jibri_secret_cannot_be_configured() -> None:
    with pytest.raises(ValidationError, match="JIBRI_SECRET"):
        Settings(jibri_secret=DEV_JIBRI_SECRET)
