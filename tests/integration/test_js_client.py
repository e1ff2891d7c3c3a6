"""The spec's JavaScript client code, run by node with the official socket.io-client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from world import World

JS_DIR = Path(__file__).resolve().parents[1] / "js"


def _node_ready() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (JS_DIR / "node_modules" / "socket.io-client").exists():
        return "socket.io-client is not installed (run `npm ci` in tests/js)"
    return None


async def test_spec_javascript_client_chats_unchanged(world: World) -> None:
    problem = _node_ready()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    patient, doctor, conversation = await world.consultation()
    env = {
        **os.environ,
        "MEDTALK_URL": world.server.base_url.replace("http://", "ws://"),
        "PATIENT_TOKEN": patient.token,
        "DOCTOR_TOKEN": doctor.token,
        "CONVERSATION_ID": conversation,
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        "spec_flow.mjs",
        cwd=JS_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stdout.decode() + stderr.decode()
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    received = result["seen"]["doctor"]["message_received"][0]
    assert received["content"] == "Hello doctor"
    assert received["senderId"] == str(patient.id)
    assert set(received) >= {"messageId", "senderId", "content", "sentAt"}
    typing = result["seen"]["patient"]["typing_start"][0]
    assert typing == {
        "conversationId": conversation,
        "userId": str(doctor.id),
        "userName": doctor.name,
    }
    read = result["seen"]["patient"]["message_read"][0]
    assert read["messageId"] == received["messageId"] and read["readAt"].endswith("Z")
    # And the message is stored, as REST history shows.
    assert (await doctor.history(conversation))["messages"][0]["content"] == "Hello doctor"
