"""Messages cross Redis sealed: another node gets the content, Redis itself never sees it."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from medtalk.core.crypto import KeyRing
from medtalk.realtime.broadcast.redis import RedisBroadcast

REDIS_URL = os.environ.get("MEDTALK_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def test_fan_out_payloads_are_sealed_on_the_wire() -> None:
    probe = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await probe.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable here"
        await probe.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    keys = KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    prefix = f"medtalk-test-{uuid.uuid4().hex[:8]}"
    received: asyncio.Queue[tuple[uuid.UUID, int, dict[str, Any]]] = asyncio.Queue()

    async def node_b_delivers(
        conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]
    ) -> None:
        await received.put((conversation_id, seq, payload))

    async def node_a_delivers(*_args: Any) -> None:
        return None

    async def nothing_to_resync() -> None:
        return None

    node_a = RedisBroadcast(node_a_delivers, REDIS_URL, prefix, "node-a", keys)
    node_b = RedisBroadcast(node_b_delivers, REDIS_URL, prefix, "node-b", keys)
    wire = probe.pubsub(ignore_subscribe_messages=True)
    await wire.subscribe(f"{prefix}:messages")
    await node_b.start(nothing_to_resync)
    try:
        conversation = uuid.uuid4()
        secret = "Kết quả sinh thiết: lành tính"
        for _ in range(50):  # node B's subscription may take a moment
            await node_a.publish(conversation, 1, {"seq": 1, "content": secret})
            try:
                got = await asyncio.wait_for(received.get(), 0.2)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("node B never received the message")
        assert got == (conversation, 1, {"seq": 1, "content": secret})
        raw = None
        for _ in range(20):  # skips the subscription confirmation
            raw = await wire.get_message(timeout=0.5)
            if raw is not None:
                break
        assert raw is not None and secret.encode() not in raw["data"]
        assert "sinh thiết".encode() not in raw["data"] and b"sealed" in raw["data"]
    finally:
        await node_b.close()
        await node_a.close()
        await wire.aclose()
        await probe.aclose()
