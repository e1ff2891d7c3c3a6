"""Who is online on other nodes is known without a Redis round trip per message batch."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from medtalk.core.clock import Clock
from medtalk.realtime.presence.redis import RedisPresence
from world import eventually, unavailable

REDIS_URL = os.environ.get("MEDTALK_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def two_nodes() -> AsyncIterator[tuple[RedisPresence, RedisPresence]]:
    probe = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await probe.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable here"
        unavailable(f"Redis not reachable: {exc}")
    finally:
        await probe.aclose()
    prefix = f"medtalk-test-{uuid.uuid4().hex[:8]}"
    nodes = [
        RedisPresence(REDIS_URL, prefix, name, Clock(), ttl_seconds=30, typing_ttl_seconds=8)
        for name in ("node-a", "node-b")
    ]
    yield nodes[0], nodes[1]
    for node in nodes:
        await node.close()
    cleanup = aioredis.Redis.from_url(REDIS_URL)
    keys = [key async for key in cleanup.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await cleanup.delete(*keys)
    await cleanup.aclose()


async def test_a_doctor_coming_and_going_on_one_node_is_seen_from_the_other(
    two_nodes: tuple[RedisPresence, RedisPresence], monkeypatch: pytest.MonkeyPatch
) -> None:
    node_a, node_b = two_nodes
    doctor, patient = uuid.uuid4(), uuid.uuid4()
    await node_a.socket_connected(patient, "patient-socket")  # node A mirrors from now on

    async def doctor_online() -> bool:
        return doctor in await node_a.online_among({doctor, patient})

    await node_b.socket_connected(doctor, "doctor-socket")
    await eventually(doctor_online, 5, "node A sees the doctor who connected on node B")

    def no_round_trip(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("online_among asked Redis")

    with monkeypatch.context() as patch:
        patch.setattr(node_a._redis, "pipeline", no_round_trip)
        assert await node_a.online_among({doctor, patient}) == {doctor, patient}

    await node_b.socket_disconnected(doctor, "doctor-socket")

    async def doctor_offline() -> bool:
        return not await doctor_online()

    await eventually(doctor_offline, 5, "node A sees the doctor leave node B")
    assert await node_a.online_among({patient}) == {patient}


async def test_a_node_started_later_finds_who_is_already_online(
    two_nodes: tuple[RedisPresence, RedisPresence],
) -> None:
    node_a, node_b = two_nodes
    doctor = uuid.uuid4()
    await node_b.socket_connected(doctor, "doctor-socket")  # before node A listens at all

    async def doctor_online() -> bool:
        return doctor in await node_a.online_among({doctor})

    assert await doctor_online()  # asked Redis: the mirror was not there yet

    async def mirrored() -> bool:
        return node_a._mirror is not None

    await eventually(mirrored, 5, "node A's mirror is subscribed")
    assert node_a._mirror is not None and doctor in node_a._mirror  # from the snapshot
