"""Issue 15: the same app under `medtalk serve` (uvicorn) or granian; PostgreSQL, 50 pairs,
the python load client, 4 s per step (bench/README.md, "The ASGI server").

    .venv/bin/pip install granian  # not a dependency: measured, not shipped
    .venv/bin/python bench/asgi_server_ab.py granian 100,500,1000
    .venv/bin/python bench/asgi_server_ab.py uvicorn 100,500,1000
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chatload  # noqa: E402


def command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [".venv/bin/medtalk", "serve"]
    return [
        ".venv/bin/granian", "--interface", "asgi", "--factory", "medtalk.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--ws",
        "--log-level", "warning",
    ]  # fmt: skip


async def load(server: chatload.Server, rates: list[int]) -> None:
    recorder = chatload.Recorder()
    pairs = await chatload.open_pairs(server, 50, recorder)
    await chatload.run_step(server, pairs, 100, 2, recorder)  # warm-up
    for rate in rates:
        chatload.report_step(server.name, await chatload.run_step(server, pairs, rate, 4, recorder))


def main() -> None:
    which, rates = sys.argv[1], [int(r) for r in sys.argv[2].split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = chatload.free_port()
        env = chatload.medtalk_env("postgresql", workdir, port)
        env["MEDTALK_DATABASE_URL"], drop = chatload.create_postgres_database()
        migrate = [".venv/bin/medtalk", "migrate"]
        subprocess.run(migrate, env=env, check=True, capture_output=True)
        env["MEDTALK_AUTO_MIGRATE"] = "false"
        process = chatload.spawn(command(which, port), env, workdir / f"{which}.log")
        server = chatload.Server(which, f"http://127.0.0.1:{port}", [process], True, [drop])
        server.database = env["MEDTALK_DATABASE_URL"]
        try:
            chatload.wait_ready(server.url, process, "/healthz")
            asyncio.run(load(server, rates))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
