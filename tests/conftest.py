"""Shared fixtures: a real medtalk server (uvicorn, real sockets) per database backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from world import (
    LiveServer,
    S3Emulator,
    World,
    postgres_admin_url,
    start_s3_emulator,
    start_server,
    try_create_database,
)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped at the end.

    CI must run this leg: there, an unreachable PostgreSQL fails the run instead of skipping.
    """
    name = f"medtalk_test_{uuid.uuid4().hex[:8]}"
    url, drop, problem = try_create_database(postgres_admin_url(), name)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable, skipping its leg: {problem}")
    yield url
    drop()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Emulator]:
    """An S3-compatible server on loopback (moto's standalone server, see world.py)."""
    with start_s3_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server per database; "sqlite-s3" (asked for indirectly by the file tests) stores
    files in S3 instead of on local disk."""
    database_url = ""
    overrides: dict[str, object] = {}
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    if request.param.endswith("-s3"):
        emulator: S3Emulator = request.getfixturevalue("s3")
        overrides = emulator.settings(emulator.new_bucket())
    data_dir: Path = tmp_path_factory.mktemp(f"medtalk-{request.param}")
    with start_server(data_dir, database_url, backend=request.param, **overrides) as live:
        yield live


@pytest.fixture
async def world(server: LiveServer) -> AsyncIterator[World]:
    async with World(server) as world:
        yield world
