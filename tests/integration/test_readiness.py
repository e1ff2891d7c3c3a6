"""/readyz turns 503 when PostgreSQL or Redis stops answering, and 200 again when it returns.

PostgreSQL is reached through a TCP proxy the test cuts (the shared server keeps running);
Redis is a private redis-server the test stops and starts on its own port.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from faults import private_redis, tcp_proxy
from medtalk.ops.checks import redis_check
from world import LiveServer, postgres_admin_url, start_server, try_create_database


@pytest.fixture
def proxied_postgres(tmp_path: Path) -> Iterator[tuple[LiveServer, object]]:
    url, drop, problem = try_create_database(
        postgres_admin_url(), f"medtalk_ready_{uuid.uuid4().hex[:8]}"
    )
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    target = urlsplit(url)
    try:
        with tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
            credentials = target.netloc.split("@")[0]
            proxied = url.replace(target.netloc, f"{credentials}@127.0.0.1:{proxy.port}")
            with start_server(
                tmp_path, proxied, backend="postgresql", readiness_timeout_seconds=1.0
            ) as live:
                yield live, proxy
    finally:
        drop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of this test's own (it registers extra checks on it)."""
    with start_server(tmp_path, "", backend="sqlite", readiness_timeout_seconds=1.0) as live:
        yield live


async def readiness(base_url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        return await http.get("/readyz")


async def eventually_ready(base_url: str, expected: int, within: float = 15.0) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await readiness(base_url)
        if response.status_code == expected or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.2)  # a real database outage: polled


async def test_readiness_follows_the_database(proxied_postgres) -> None:  # type: ignore[no-untyped-def]
    live, proxy = proxied_postgres
    up = await readiness(live.base_url)
    assert up.status_code == 200, up.text
    assert up.json()["checks"]["database"]["status"] == "up"

    proxy.cut()
    down = await eventually_ready(live.base_url, 503)
    assert down.status_code == 503, down.text
    assert down.json()["status"] == "unavailable"
    assert down.json()["checks"]["database"]["status"] == "down"
    async with httpx.AsyncClient(base_url=live.base_url, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200  # alive, just not ready
        scrape = (await http.get("/metrics")).text
    assert 'medtalk_dependency_up{dependency="database"} 0.0' in scrape

    proxy.restore()
    back = await eventually_ready(live.base_url, 200)
    assert back.status_code == 200, back.text
    assert back.json()["checks"]["database"]["status"] == "up"


async def test_readiness_follows_redis(own_server: LiveServer) -> None:
    live = own_server
    with private_redis() as redis:
        live.app.api.state.ops.readiness.register("redis", redis_check(redis.url))
        up = await readiness(live.base_url)
        assert up.status_code == 200, up.text
        assert up.json()["checks"]["redis"]["status"] == "up"

        redis.stop()
        down = await readiness(live.base_url)
        assert down.status_code == 503, down.text
        assert down.json()["checks"]["redis"]["status"] == "down"
        assert down.json()["checks"]["database"]["status"] == "up"

        redis.start()
        back = await eventually_ready(live.base_url, 200)
        assert back.status_code == 200, back.text


async def test_an_optional_dependency_down_degrades_but_stays_ready(
    own_server: LiveServer,
) -> None:
    async def broken() -> None:
        raise ConnectionError("cdn unreachable")

    own_server.app.api.state.ops.readiness.register("cdn", broken, required=False)
    response = await readiness(own_server.base_url)
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    cdn = response.json()["checks"]["cdn"]
    assert (cdn["status"], cdn["required"], cdn["error"]) == ("down", False, "ConnectionError")
