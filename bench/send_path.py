"""CPU per message of the send path alone, in-process: no sockets, no load client.

    .venv/bin/python bench/send_path.py --backend postgresql --messages 2000 --concurrency 1,8

`ChatService.send_message` is called as the socket handler calls it (group commit, audit,
search index, offline-job decision), on a fresh migrated database, with the real clock. Prints
CPU ms per message of this process (the database server's own CPU is not counted) and wall
time per message, for each concurrency (1: every batch holds one message, as at low rates).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from world import fresh_database, test_settings  # noqa: E402

from medtalk.audit import RequestContext  # noqa: E402
from medtalk.container import build_container  # noqa: E402
from medtalk.core.auth import Principal, Role  # noqa: E402
from medtalk.core.clock import Clock  # noqa: E402
from medtalk.db.migrate import upgrade  # noqa: E402

TEXT = "Chào bác sĩ, tôi bị sốt nhẹ từ tối qua và hơi đau họng, có cần đi khám không ạ?"


async def run(database_url: str, data_dir: Path, messages: int, concurrency: int) -> None:
    settings = test_settings(data_dir, database_url, rate_messages_per_minute=10**9)
    container = build_container(settings, Clock())
    try:
        pairs = []
        for _ in range(concurrency):
            patient = Principal(uuid.uuid4(), "Bệnh nhân", Role.PATIENT)
            doctor = Principal(uuid.uuid4(), "Bác sĩ", Role.DOCTOR)
            await container.users.ensure(patient)
            await container.users.ensure(doctor)
            created = await container.chat.create_conversation(
                RequestContext(patient), doctor_id=doctor.user_id, patient_id=None,
                appointment_id=None, initial_message=None,
            )
            pairs.append((RequestContext(patient), created.conversation_id))
        each = messages // concurrency

        async def sender(context: RequestContext, conversation_id: uuid.UUID, count: int) -> None:
            for _ in range(count):
                await container.chat.send_message(context, conversation_id, TEXT)

        await asyncio.gather(*(sender(c, i, 50) for c, i in pairs))  # warm-up
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(sender(c, i, each) for c, i in pairs))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        total = each * concurrency
        print(
            f"concurrency {concurrency:>3}: {total} messages, CPU {1000 * cpu / total:.3f} ms/msg, "
            f"wall {1000 * wall / total:.3f} ms/msg ({total / wall:.0f} msg/s)",
            flush=True,
        )
    finally:
        await container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,8")
    args = parser.parse_args()
    for concurrency in [int(c) for c in args.concurrency.split(",")]:
        with tempfile.TemporaryDirectory() as directory:
            url, drop = fresh_database(args.backend)
            try:
                upgrade(test_settings(Path(directory), url))
                asyncio.run(run(url, Path(directory), args.messages, concurrency))
            finally:
                drop()


if __name__ == "__main__":
    main()
