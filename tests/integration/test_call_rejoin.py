"""The rejoin grace period (issue 17) against a server with a short one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from world import LiveServer, World, start_server

GRACE = 0.6


@pytest.fixture(scope="module")
def short_grace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("medtalk-grace")
    with start_server(data_dir, "", backend="sqlite", call_rejoin_grace_seconds=GRACE) as live:
        yield live


@pytest.fixture
async def world(short_grace: LiveServer) -> AsyncIterator[World]:
    async with World(short_grace) as world:
        yield world


async def test_participant_left_comes_only_after_the_grace_period(world: World) -> None:
    call = await world.call_in_progress()
    closed_at = time.monotonic()
    await call.patient_socket.close()
    await call.doctor_socket.events.next("participant_reconnecting")
    left = await call.doctor_socket.events.next("participant_left", timeout=5)
    assert time.monotonic() - closed_at >= GRACE * 0.9
    assert left["userId"] == str(call.patient.id)
    # The call goes on (the doctor may still end it); the patient may come back later.
    rooms = (await call.doctor.get("/api/v1/video-call/rooms")).json()["rooms"]
    assert [r["status"] for r in rooms if r["roomId"] == call.room_id] == ["IN_PROGRESS"]
    back = await call.patient.joins_room(call.room_id)
    assert back["status"] == "IN_PROGRESS"


async def test_coming_back_within_the_grace_period_is_not_leaving(world: World) -> None:
    call = await world.call_in_progress()
    await call.patient_socket.close()
    await call.doctor_socket.events.next("participant_reconnecting")
    await call.patient.connects()
    await call.doctor_socket.events.next("participant_reconnected")
    await call.doctor_socket.events.none("participant_left", within=GRACE * 2)


async def test_fresh_ice_servers_over_the_socket(world: World) -> None:
    call = await world.call_in_progress()
    ack = await call.patient_socket.call("call_ice_servers", {"roomId": call.room_id})
    assert ack["configuration"] == {"stunServers": [], "turnServers": []}
    stranger = await (await world.patient("Người lạ")).connects()
    refused = await stranger.call("call_ice_servers", {"roomId": call.room_id})
    assert refused["error"]["code"] == "NOT_FOUND"
