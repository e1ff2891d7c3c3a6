"""Notification configuration: dev defaults refused in production, VAPID keys made and kept."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from medtalk.cli import app
from medtalk.notifications.vapid import KEY_FILE, VapidKeyMissing, load_vapid_keys
from medtalk.settings import Settings
from world import PRODUCTION_SECRETS


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_web_push_needs_a_vapid_subject() -> None:
    with pytest.raises(ValidationError, match="MEDTALK_VAPID_SUBJECT"):
        settings(**PRODUCTION_SECRETS, notifier="log,webpush")
    settings(**PRODUCTION_SECRETS, notifier="webpush", vapid_subject="mailto:ops@example.org")


def test_email_and_escalation_need_their_servers_and_targets() -> None:
    with pytest.raises(ValidationError, match="MEDTALK_SMTP_HOST"):
        settings(notifier="email")
    with pytest.raises(ValidationError, match="MEDTALK_ESCALATION_WEBHOOK_URL"):
        settings(escalation_after_minutes="30,120")
    with pytest.raises(ValidationError, match="HH:MM-HH:MM"):
        settings(
            escalation_after_minutes="30",
            escalation_webhook_url="https://oncall.example.org/hook",
            escalation_clinic_hours="8-17",
        )
    chosen = settings(notifier="log,webpush,webhook", notify_webhook_url="https://x.example/h")
    assert chosen.notifier == ["log", "webpush", "webhook"]


def test_production_never_makes_a_vapid_key_dev_makes_one_and_keeps_it(tmp_path: Path) -> None:
    with pytest.raises(VapidKeyMissing):
        load_vapid_keys("", tmp_path, dev=False)
    made = load_vapid_keys("", tmp_path, dev=True)
    stored = tmp_path / KEY_FILE
    assert stored.stat().st_mode & 0o777 == 0o600
    assert load_vapid_keys("", tmp_path, dev=False) == made  # a stored key serves production
    point = base64.urlsafe_b64decode(made.public_key + "=")
    assert len(point) == 65 and point[0] == 4  # an uncompressed P-256 point


def test_keys_vapid_command_stores_a_key_and_refuses_to_replace_it(tmp_path: Path) -> None:
    env = {"MEDTALK_DATA_DIR": str(tmp_path), "MEDTALK_LOG_LEVEL": "WARNING"}
    first = CliRunner().invoke(app, ["keys", "vapid"], env=env)
    assert first.exit_code == 0, first.output
    assert "MEDTALK_VAPID_PRIVATE_KEY=" in first.output
    private = first.output.split("MEDTALK_VAPID_PRIVATE_KEY=")[1].split()[0]
    assert (tmp_path / KEY_FILE).read_text().strip() == private
    again = CliRunner().invoke(app, ["keys", "vapid"], env=env)
    assert again.exit_code == 1
    assert (tmp_path / KEY_FILE).read_text().strip() == private
