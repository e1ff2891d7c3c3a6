"""Serves the built web client (web/ -> src/medtalk/static/) at `/` and its client-side routes.

Only `/`, `/conversations/...`, `/call/...` and `/assets/...` are served from here, so nothing
shadows /api, /socket.io, /docs or /openapi.json, whatever order routers are added in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# The page's own scripts only (Jitsi's external_api.js comes from the Jitsi server when that
# provider is configured, so any https origin may serve a script or a frame); no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' https:; frame-src https:; "
    "connect-src 'self' ws: wss: http: https:; img-src 'self' blob: data: http: https:; "
    "media-src 'self' blob: http: https:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'"
)


def page_headers(frame_ancestors: Sequence[str] = ()) -> dict[str, str]:
    """Headers of the client's page. Only this origin and the listed ones (the platform's own
    app, MEDTALK_WEB_FRAME_ANCESTORS) may frame it (security, issue 16: it was any site)."""
    ancestors = " ".join(["'self'", *frame_ancestors])
    return {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; frame-ancestors {ancestors}",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        # Browsers without CSP frame-ancestors: same origin only (they cannot take a list).
        "X-Frame-Options": "SAMEORIGIN",
    }


NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>medtalk</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>medtalk</h1>
<p>The web client is not built yet. Build it with <code>make web</code>
(or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>; needs Node 20),
then reload this page. <code>make run</code> builds it for you.</p>
<p>The API is up: see <a href="/docs">/docs</a>.</p>
</body></html>
"""


class _HashedAssets(StaticFiles):
    """Vite's assets carry a content hash in their names, so browsers may keep them for good."""

    async def check_config(self) -> None:
        # Not built (yet): answer 404 per request instead of failing the first one with a 500.
        if self.directory is not None and not await anyio.Path(self.directory).is_dir():
            return
        await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install_web_client(
    api: FastAPI, static_dir: Path = STATIC_DIR, *, frame_ancestors: Sequence[str] = ()
) -> None:
    """Route `/` and the client's own paths to index.html; `/assets/` to the built files."""
    index = static_dir / "index.html"
    headers = page_headers(frame_ancestors)

    async def page() -> Response:
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=200, headers={"Cache-Control": "no-cache"})
        return FileResponse(index, media_type="text/html", headers=headers)

    worker = static_dir / "sw.js"

    async def service_worker() -> Response:
        """The push service worker (issue 18): never cached, allowed to control every path."""
        if not worker.is_file():
            return Response(status_code=404)
        return FileResponse(
            worker,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    api.add_api_route("/sw.js", service_worker, methods=["GET"], include_in_schema=False)
    for path in ("/", "/conversations/{conversation_id}", "/call/{room_id}"):
        api.add_api_route(path, page, methods=["GET", "HEAD"], include_in_schema=False)
    api.mount(
        "/assets", _HashedAssets(directory=static_dir / "assets", check_dir=False), name="assets"
    )
