"""Who may frame the web client (issue 16): this origin and the configured platform app only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from medtalk.api.headers import SecureHeaders
from medtalk.settings import Settings
from medtalk.web import install_web_client


def page_client(static_dir: Path, frame_ancestors: list[str]) -> httpx.AsyncClient:
    (static_dir / "index.html").write_text("<!doctype html><title>medtalk</title>")
    api = FastAPI()
    install_web_client(api, static_dir, frame_ancestors=frame_ancestors)
    app = SecureHeaders(api, hsts_max_age=0)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def frame_ancestors(response: httpx.Response) -> list[str]:
    policy = response.headers["content-security-policy"]
    directives = [part.strip().split() for part in policy.split(";")]
    return next(values for name, *values in directives if name == "frame-ancestors")


async def test_only_this_origin_may_frame_the_page_by_default(tmp_path: Path) -> None:
    async with page_client(tmp_path, []) as client:
        for path in ("/", "/conversations/5f0c", "/call/6a1d-room"):
            page = await client.get(path)
            assert frame_ancestors(page) == ["'self'"], page.headers["content-security-policy"]
            assert page.headers["x-frame-options"] == "SAMEORIGIN"


async def test_the_platform_app_may_frame_the_page_when_listed(tmp_path: Path) -> None:
    origins = Settings(
        web_frame_ancestors="https://app.example.org,https://portal.example.org:8443"
    )
    async with page_client(tmp_path, origins.web_frame_ancestors) as client:
        page = await client.get("/")
        assert frame_ancestors(page) == [
            "'self'",
            "https://app.example.org",
            "https://portal.example.org:8443",
        ]


@pytest.mark.parametrize(
    "value", ["*", "https:", "https://a.org; script-src *", "https://a.org/path", "'none'"]
)
def test_frame_ancestors_take_origins_only(value: str) -> None:
    with pytest.raises(ValidationError, match="FRAME_ANCESTORS"):
        Settings(web_frame_ancestors=[value])
