"""What a server process imports at start (memory, issue 15): no unused clients or backends."""

from __future__ import annotations

import subprocess
import sys

# Imported by python-socketio's and python-engineio's package __init__s, by Web Push and
# by images, none of which an embedded server at rest uses (medtalk/lazy_packages.py).
UNUSED_AT_START = ("aiohttp", "requests", "redis", "aio_pika", "pywebpush", "PIL")


def imported_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    return set(out.stdout.decode().split())


def test_the_app_starts_without_unused_clients_and_backends() -> None:
    loaded = imported_after("import medtalk.app, medtalk.cli")
    assert "socketio" in loaded
    assert not loaded & set(UNUSED_AT_START)


def test_socketio_names_still_import_on_first_use() -> None:
    loaded = imported_after(
        "import medtalk, socketio, engineio\n"
        "from socketio import AsyncServer, packet\n"
        "assert socketio.AsyncClient and socketio.AsyncRedisManager and engineio.AsyncClient\n"
        "assert packet.EVENT and AsyncServer is socketio.async_server.AsyncServer"
    )
    assert {"aiohttp", "redis"} <= loaded
