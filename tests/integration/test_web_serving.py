"""The service serves the web client at `/` without shadowing the API, and the dev demo sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT
from medtalk.settings import Settings
from medtalk.web import install_web_client
from medtalk.web.static import NOT_BUILT
from world import PRODUCTION_SECRETS, LiveServer, start_server


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(
        tmp_path_factory.mktemp("web-demo"), "", backend="sqlite", demo_accounts=True
    ) as live:
        yield live


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A stand-in for Vite's output: index.html and one hashed asset."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><script src="/assets/app-1a2b.js">')
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('medtalk')")
    return tmp_path


def client_for(static_dir: Path) -> httpx.AsyncClient:
    api = FastAPI()

    @api.get("/api/v1/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    install_web_client(api, static_dir)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test")


async def test_the_page_answers_at_root_and_client_routes(built: Path) -> None:
    async with client_for(built) as client:
        for path in ("/", "/conversations/5f0c", "/call/6a1d-room"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html")
            assert "/assets/app-1a2b.js" in response.text
            assert response.headers["cache-control"] == "no-cache"
            assert "default-src 'self'" in response.headers["content-security-policy"]
        assert (await client.head("/call/6a1d-room")).status_code == 200
        asset = await client.get("/assets/app-1a2b.js")
        assert asset.status_code == 200 and "medtalk" in asset.text
        assert "immutable" in asset.headers["cache-control"]
        assert (await client.get("/assets/missing.js")).status_code == 404
        assert (await client.get("/assets/../index.html")).status_code == 404
        assert (await client.get("/api/v1/ping")).json() == {"pong": "yes"}
        assert (await client.get("/elsewhere")).status_code == 404


async def test_without_a_build_the_page_says_how_to_build_it(tmp_path: Path) -> None:
    async with client_for(tmp_path / "nothing-here") as client:
        response = await client.get("/")
        assert response.status_code == 200
        assert response.text == NOT_BUILT and "make web" in response.text
        assert (await client.get("/assets/app.js")).status_code == 404


async def test_the_api_docs_and_socket_io_are_not_shadowed(demo_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=demo_server.base_url) as client:
        unknown = await client.get("/api/v1/nothing")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "NOT_FOUND"
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "medtalk"
        assert "swagger" in (await client.get("/docs")).text.lower()
        handshake = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert handshake.status_code == 200 and '"sid"' in handshake.text
        unauthorized = await client.get("/api/v1/chat/conversations")
        assert unauthorized.status_code == 401


async def test_demo_accounts_sign_in_the_seeded_doctor_and_patient(
    demo_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=demo_server.base_url) as client:
        response = await client.get("/api/v1/dev/demo-accounts")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        accounts = {account["role"]: account for account in body["accounts"]}
        assert accounts["DOCTOR"]["name"] == DEMO_DOCTOR.name
        assert accounts["PATIENT"]["userId"] == str(DEMO_PATIENT.user_id)
        for account in accounts.values():
            mine = await client.get(
                "/api/v1/chat/conversations",
                headers={"Authorization": f"Bearer {account['token']}"},
            )
            assert mine.status_code == 200
            assert [c["id"] for c in mine.json()["conversations"]] == [body["conversationId"]]
        again = (await client.get("/api/v1/dev/demo-accounts")).json()
        assert again["conversationId"] == body["conversationId"]  # seeded once


async def test_demo_accounts_are_absent_unless_asked_for(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get("/api/v1/dev/demo-accounts")
        assert response.status_code == 404


def test_production_refuses_demo_accounts(tmp_path: Path) -> None:
    Settings(**PRODUCTION_SECRETS, data_dir=tmp_path)  # fine without demo accounts
    with pytest.raises(ValidationError, match="dev mode only"):
        Settings(**PRODUCTION_SECRETS, demo_accounts=True, data_dir=tmp_path)
