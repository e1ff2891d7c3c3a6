"""Operator commands, run as a newcomer would run them."""

from __future__ import annotations

import os
import subprocess
import sys
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
