"""Operator commands, run as a newcomer would run them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt

MEDTALK = [sys.executable, "-m", "medtalk.cli"]


def run(tmp_path: Path, *args: str, **env: str) -> str:
    environment = {
        **os.environ,
        "MEDTALK_DATA_DIR": str(tmp_path),
        "MEDTALK_LOG_LEVEL": "WARNING",
        **env,
    }
    result = subprocess.run(
        [*MEDTALK, *args], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_users_add_list_and_token(tmp_path: Path) -> None:
    added = run(tmp_path, "users", "add", "BS. Lê Văn C", "--role", "DOCTOR")
    doctor_id = added.split()[0]
    assert uuid.UUID(doctor_id)
    listed = run(tmp_path, "users", "list")
    assert "BS. Lê Văn C" in listed and "DOCTOR" in listed
    token = run(tmp_path, "token", doctor_id, "--name", "BS. Lê Văn C", "--role", "DOCTOR").strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == doctor_id and claims["role"] == "DOCTOR"


def test_demo_prints_tokens_and_is_repeatable(tmp_path: Path) -> None:
    first = run(tmp_path, "demo")
    second = run(tmp_path, "demo")
    assert "doctor" in first and "patient" in first and "token ey" in first

    def conversation(output: str) -> str:
        return next(line.split()[1] for line in output.splitlines() if "conversation " in line)

    assert conversation(first) == conversation(second)


def test_production_mode_refuses_dev_secrets(tmp_path: Path) -> None:
    environment = {**os.environ, "MEDTALK_DATA_DIR": str(tmp_path), "MEDTALK_MODE": "production"}
    result = subprocess.run(
        [*MEDTALK, "migrate"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "MEDTALK_JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_port_option_reaches_links_and_links_are_relative(tmp_path: Path) -> None:
    """`serve --port` is the port of this run everywhere, and without MEDTALK_PUBLIC_URL the
    call's joinUrl is a relative path (it used to say http://127.0.0.1:8089 whatever the port)."""
    import httpx

    from world import free_port

    port = free_port()
    environment = {
        **os.environ,
        "MEDTALK_DATA_DIR": str(tmp_path),
        "MEDTALK_LOG_LEVEL": "WARNING",
        "MEDTALK_PUBLIC_URL": "",
        "MEDTALK_STUN_URLS": "",  # a hospital that wants no third-party STUN server
    }
    server = subprocess.Popen(
        [*MEDTALK, "serve", "--demo", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner: list[str] = []
        for line in server.stdout:  # the demo banner comes before uvicorn starts listening
            banner.append(line)
            if "conversation " in line:
                break
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}" in text and ":8089" not in text, text
        doctor_token = text.split("token ", 2)[1].split()[0]
        conversation = next(
            line.split()[1] for line in banner if line.strip().startswith("conversation ")
        )
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(200):  # up to ~20 s for uvicorn to listen
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            auth = {"Authorization": f"Bearer {doctor_token}"}
            room = client.post(
                "/api/v1/video-call/create-room",
                json={"conversationId": conversation},
                headers=auth,
            )
            assert room.status_code == 201, room.text
            assert room.json()["joinUrl"] == f"/call/{room.json()['roomId']}"
            token = client.get(
                f"/api/v1/video-call/rooms/{room.json()['roomId']}/token", headers=auth
            )
            assert token.json()["joinUrl"] == room.json()["joinUrl"]
            assert token.json()["configuration"]["stunServers"] == []
    finally:
        server.terminate()
        server.wait(timeout=20)
