"""The service tier: chat, call and recording rules driven in-process through the services
(no HTTP, no sockets), on SQLite, on a clock the test moves. Fast, and reads like the product.

The database is migrated once per session and copied for each test.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clinic import Clinic

from medtalk.container import build_container
from medtalk.core.clock import FakeClock
from medtalk.core.events import RecordingSink
from medtalk.db.migrate import upgrade
from world import test_settings

DATABASE = "medtalk.db"


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, made once; each test gets a copy."""
    template = tmp_path_factory.mktemp("service-template")
    upgrade(test_settings(template, ""))
    return template / DATABASE


@pytest.fixture
async def clinic(migrated: Path, tmp_path: Path) -> AsyncIterator[Clinic]:
    shutil.copy(migrated, tmp_path / DATABASE)
    settings = test_settings(tmp_path, "", call_max_duration_minutes=30)
    container = build_container(settings, FakeClock())
    heard = RecordingSink()
    container.events.subscribe(heard)
    try:
        yield Clinic(settings, container, heard)
    finally:
        await container.close()
