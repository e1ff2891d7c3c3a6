"""How many audit rows per second the HMAC chain takes (every send and read appends one).

.venv/bin/python bench/audit_append.py [--rows 2000] [--concurrency 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from medtalk.audit import AuditTrail  # noqa: E402
from medtalk.core.clock import Clock  # noqa: E402
from medtalk.db.engine import Database, create_engine  # noqa: E402
from medtalk.db.migrate import upgrade  # noqa: E402
from world import postgres_admin_url, test_settings, try_create_database  # noqa: E402


async def measure(url: str, rows: int, concurrency: int) -> float:
    settings = test_settings(Path(tempfile.mkdtemp()), url)
    await asyncio.to_thread(upgrade, settings)
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    trail = AuditTrail(db, Clock(), settings.audit_secret)
    queue = iter(range(rows))

    async def worker() -> None:
        for i in queue:
            await trail.record(
                "bench.append", role="SYSTEM", object_id=i, conversation_id=uuid.uuid4()
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    assert (await trail.verify()).ok
    await db.close()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    print(f"sqlite:     {asyncio.run(measure('', args.rows, args.concurrency)):7.0f} appends/s")
    url, drop, problem = try_create_database(postgres_admin_url(), f"bench_{uuid.uuid4().hex[:8]}")
    if problem:
        print(f"postgresql: skipped ({problem})")
        return
    try:
        rate = asyncio.run(measure(url, args.rows, args.concurrency))
        print(f"postgresql: {rate:7.0f} appends/s")
    finally:
        drop()


if __name__ == "__main__":
    main()
