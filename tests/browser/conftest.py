"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live medtalk server.

Never downloads a browser: no `playwright install`. Without chromium (or Node to build the
client) these tests skip with the reason, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from world import LiveServer, start_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MEDTALK_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

# Keeps every RTCPeerConnection the page makes reachable, so a test can read its getStats().
CAPTURE_PEER_CONNECTIONS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__peerConnections.push(this); }
  };
})();
"""


def _missing(problem: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"required for the browser tests in CI: {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def web_build() -> Path:
    """The built client (src/medtalk/static), rebuilt by scripts/build-web.sh when stale."""
    if shutil.which("npm") is None:
        _missing("npm is not installed (Node 20 builds the web client)")
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-web.sh")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"web client build failed:\n{result.stdout}\n{result.stderr}"
    static = ROOT / "src" / "medtalk" / "static"
    assert (static / "index.html").is_file()
    return static


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} not found (scripts/test-deps.sh installs Debian's chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path, args=FAKE_MEDIA)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
def web_server(web_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """medtalk on embedded defaults (SQLite) with the demo sign-in, as `make run` serves it."""
    data_dir = tmp_path_factory.mktemp("medtalk-web")
    with start_server(data_dir, "", backend="sqlite", demo_accounts=True) as live:
        yield live


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@dataclass
class Pages:
    """The doctor's page (desktop, English) and the patient's (phone, Vietnamese)."""

    doctor: Page
    patient: Page
    contexts: list[BrowserContext]


@pytest.fixture(scope="module")
async def pages(browser: Any, web_server: LiveServer) -> AsyncIterator[Pages]:
    doctor_context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US"
    )
    patient_context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True, has_touch=True
    )
    contexts = [doctor_context, patient_context]
    for context in contexts:
        await context.add_init_script(CAPTURE_PEER_CONNECTIONS)
    doctor, patient = await doctor_context.new_page(), await patient_context.new_page()
    yield Pages(doctor, patient, contexts)
    for context in contexts:
        await context.close()
