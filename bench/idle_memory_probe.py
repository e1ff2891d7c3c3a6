"""Server memory per idle Socket.IO connection, measured in-process (issue 15, bench/README.md).

    .venv/bin/python bench/idle_memory_probe.py serve 3000            # RSS growth per socket
    TRACE=1 DEEP=20 .venv/bin/python bench/idle_memory_probe.py serve 3000  # tracemalloc by line

The first argument is uvicorn's `ws` option (`websockets-sansio`, `websockets`, `wsproto`) or
`serve` for the options `medtalk serve` runs. The server (SQLite) runs in this process, the
clients in a child process, so only the server's memory is measured. DEEP=n prints the n
largest allocation sites with their call stacks.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, "tests")
sys.path.insert(0, "bench")

import psutil  # noqa: E402
from sioclient import SioClient  # noqa: E402

import world  # noqa: E402
from medtalk.core.auth import Role  # noqa: E402
from medtalk.realtime.websocket_protocol import SERVE_OPTIONS  # noqa: E402


async def hold(server: world.LiveServer, count: int) -> list[SioClient]:
    tokens = [server.token(uuid.uuid4(), "P", Role.PATIENT) for _ in range(50)]
    clients = [
        SioClient(
            server.base_url,
            "/ws/chat",
            tokens[i % 50],
            lambda *_: None,
            source=f"127.0.0.{2 + i // 20000}",
        )
        for i in range(count)
    ]
    parallel = asyncio.Semaphore(50)

    async def connect(client: SioClient) -> None:
        async with parallel:
            await client.connect()

    await asyncio.gather(*(connect(c) for c in clients))
    return clients


def short(filename: str) -> str:
    return filename.split("site-packages/")[-1]


def main() -> None:
    ws, count = sys.argv[1], int(sys.argv[2])
    options: dict[str, Any] = dict(SERVE_OPTIONS) if ws == "serve" else {"ws": ws}
    trace = os.environ.get("TRACE") == "1"
    with (
        tempfile.TemporaryDirectory() as tmp,
        world.start_server(
            Path(tmp), "", backend="sqlite", max_sockets_per_user=0, uvicorn_options=options
        ) as server,
    ):
        gc.collect()
        if trace:
            tracemalloc.start(6)
        before = tracemalloc.take_snapshot() if trace else None
        rss_before = psutil.Process().memory_info().rss
        ready, done = multiprocessing.Event(), multiprocessing.Event()

        def clients() -> None:
            async def run() -> None:
                held = await hold(server, count)
                ready.set()
                await asyncio.to_thread(done.wait)  # the sockets stay open until then
                del held

            asyncio.run(run())

        child = multiprocessing.Process(target=clients)  # forked: shares nothing after
        child.start()
        ready.wait(600)
        time.sleep(2)
        gc.collect()
        rss = psutil.Process().memory_info().rss
        print(f"ws={ws} N={count} rss per socket {(rss - rss_before) / count / 1024:.1f} KB")
        if before is not None:
            after = tracemalloc.take_snapshot()
            diff = after.compare_to(before, "lineno")
            print(f"traced total {sum(d.size_diff for d in diff) / count:.0f} B/socket")
            for stat in diff[:40]:
                frame = stat.traceback[0]
                print(
                    f"{stat.size_diff / count:8.0f} B/socket "
                    f"{stat.count_diff / count:5.1f} blocks  "
                    f"{short(frame.filename)}:{frame.lineno}"
                )
            for stat in after.compare_to(before, "traceback")[: int(os.environ.get("DEEP", 0))]:
                print(f"--- {stat.size_diff / count:8.0f} B/socket")
                for frame in stat.traceback:
                    print("     ", short(frame.filename), frame.lineno)
        done.set()
        child.join(30)


if __name__ == "__main__":
    main()
