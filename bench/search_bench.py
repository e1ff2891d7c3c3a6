"""Search in encrypted history: latency over 100,000 messages and the blind index's size.

.venv/bin/python bench/search_bench.py [--messages 100000] [--queries 300] [--backends sqlite,postgresql]

Writes the messages through the chat service's own code (sealed rows, index terms in the same
transaction, 1,000 messages a transaction), then times SearchService.search in-process (index
lookup, loading and decrypting the candidates, checking their words) for three callers: a
patient (one conversation, 200 messages), a doctor (10 conversations) and a busy doctor (100
conversations, 20,000 messages). Queries are one or two words of the messages' vocabulary,
typed with or without diacritics. Index size: SQLite's dbstat, PostgreSQL's
pg_total_relation_size, for search_terms and search_conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from medtalk.audit.context import RequestContext  # noqa: E402
from medtalk.chat import store as chat_store  # noqa: E402
from medtalk.chat.schemas import ContentType  # noqa: E402
from medtalk.cli.common import open_container  # noqa: E402
from medtalk.core.auth import Principal, Role  # noqa: E402
from medtalk.search.index import Written  # noqa: E402
from medtalk.search.service import SearchService  # noqa: E402
from medtalk.search.tokens import fold  # noqa: E402
from world import postgres_admin_url, test_settings, try_create_database  # noqa: E402

PER_CONVERSATION = 200
SYMPTOMS = ["sốt", "ho", "đau đầu", "đau bụng", "buồn nôn", "chóng mặt", "mệt mỏi", "khó thở",
            "phát ban", "tiêu chảy", "đau họng", "sổ mũi", "mất ngủ", "đau lưng", "ngứa"]
DRUGS = ["paracetamol", "ibuprofen", "amoxicillin", "omeprazole", "loratadine", "metformin",
         "salbutamol", "cetirizine", "vitamin C", "oresol", "berberin", "aspirin"]
PHRASES = ["Tôi bị {s} từ hôm qua", "Bác sĩ ơi, con tôi bị {s} và {s2}", "Chị uống {d} {n}mg",
           "Uống {d} sau bữa ăn, ngày {k} lần", "Em vẫn còn {s}, có cần đi khám không ạ?",
           "Cảm ơn bác sĩ", "Vâng ạ", "Kết quả xét nghiệm máu bình thường",
           "Nếu {s} kéo dài quá {k} ngày thì đến bệnh viện", "Đã đỡ {s} nhiều rồi ạ",
           "Theo dõi nhiệt độ mỗi {k} giờ", "Tái khám sau {k} tuần",
           "Có dị ứng với {d} không?", "Không ạ, em chưa dùng {d} bao giờ"]  # fmt: skip


def sentence(rng: random.Random) -> str:
    phrase = rng.choice(PHRASES)
    return phrase.format(
        s=rng.choice(SYMPTOMS), s2=rng.choice(SYMPTOMS), d=rng.choice(DRUGS),
        n=rng.choice([250, 500, 1000]), k=rng.randint(1, 7),
    )  # fmt: skip


async def populate(rt: Any, messages: int, rng: random.Random) -> dict[str, list[Principal]]:
    conversations = messages // PER_CONVERSATION
    doctors = [Principal(uuid.uuid4(), f"BS {i}", Role.DOCTOR) for i in range(50)]
    people: dict[str, list[Principal]] = {"patient": [], "doctor": doctors[1:], "busy": doctors[:1]}
    for person in doctors:
        await rt.users.ensure(person)
    plan: list[tuple[Principal, Principal]] = []
    for i in range(conversations):
        patient = Principal(uuid.uuid4(), f"BN {i}", Role.PATIENT)
        await rt.users.ensure(patient)
        people["patient"].append(patient)
        # The busy doctor has 100 conversations; the others share the rest.
        doctor = doctors[0] if i < 100 else doctors[1 + i % 49]
        plan.append((patient, doctor))
    chat = rt.chat
    batch: list[tuple[Any, str]] = []
    for patient, doctor in plan:
        created = await chat.create_conversation(
            RequestContext(actor=patient), doctor_id=doctor.user_id, patient_id=None, appointment_id=None,
            initial_message=sentence(rng),
        )  # fmt: skip
        for seq in range(2, PER_CONVERSATION + 1):
            sender = patient if seq % 2 else doctor
            text = sentence(rng)
            row = chat._new_message(
                created.conversation_id, sender, text, ContentType.TEXT, None, None, seq,
                rt.clock.now(),
            )  # fmt: skip
            batch.append((row, text))
        if len(batch) >= 1000:
            await write(rt, batch)
            batch = []
    await write(rt, batch)
    return people


async def write(rt: Any, batch: list[tuple[Any, str]]) -> None:
    """The group-commit path's writes: the rows, their index terms, one transaction."""
    if not batch:
        return
    async with rt.db.transaction() as db:
        await chat_store.insert_messages(db, [row for row, _text in batch])
        await rt.chat._search.add(db, [Written.of(row, text) for row, text in batch])


async def index_bytes(rt: Any) -> int:
    async with rt.db.read() as db:
        if db.dialect.name == "postgresql":
            query = "SELECT pg_total_relation_size('search_terms') + pg_total_relation_size('search_conversations')"
        else:
            query = "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%search_%'"
        return int(await db.scalar(sa.text(query)) or 0)


async def measure(url: str, messages: int, queries: int) -> dict[str, Any]:
    settings = test_settings(Path(tempfile.mkdtemp()), url, rate_limit_enabled=False)
    rng = random.Random(19)
    async with open_container(settings) as rt:
        started = time.perf_counter()
        people = await populate(rt, messages, rng)
        loaded = time.perf_counter() - started
        if url:
            async with rt.db.transaction() as db:
                await db.execute(sa.text("ANALYZE"))
        size = await index_bytes(rt)
        async with rt.db.read() as db:
            stored = await db.scalar(sa.text("SELECT count(*) FROM chat_messages"))
        search = SearchService(rt.db, rt.keys, rt.chat)
        vocabulary = [w for w in SYMPTOMS + DRUGS]
        results: dict[str, Any] = {"messages": stored, "index_bytes": size, "load_s": loaded}
        for kind, callers in people.items():
            timings: list[float] = []
            hits = 0
            for _ in range(queries):
                caller = rng.choice(callers)
                query = rng.choice(vocabulary)
                if rng.random() < 0.5:
                    query = fold(query)  # typed without diacritics
                begun = time.perf_counter()
                page = await search.search(caller, query, None, None, 20)
                timings.append((time.perf_counter() - begun) * 1000)
                hits += len(page.messages)
            timings.sort()
            results[kind] = {
                "p50": statistics.median(timings),
                "p95": timings[int(len(timings) * 0.95) - 1],
                "p99": timings[int(len(timings) * 0.99) - 1],
                "hits": hits / queries,
            }
    return results


def report(name: str, results: dict[str, Any]) -> None:
    per_message = results["index_bytes"] / results["messages"]
    print(f"{name}: {results['messages']} messages written in {results['load_s']:.0f} s; "
          f"index {results['index_bytes'] / 1e6:.1f} MB = {per_message:.0f} bytes/message")  # fmt: skip
    for kind in ("patient", "doctor", "busy"):
        r = results[kind]
        print(f"  {kind:8} p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  p99 {r['p99']:6.1f} ms"
              f"  ({r['hits']:.1f} results/query)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        report("sqlite", asyncio.run(measure("", args.messages, args.queries)))
    if "postgresql" in backends:
        url, drop, problem = try_create_database(
            postgres_admin_url(), f"bench_{uuid.uuid4().hex[:8]}"
        )
        if problem:
            print(f"postgresql: skipped ({problem})")
            return
        try:
            report("postgresql", asyncio.run(measure(url, args.messages, args.queries)))
        finally:
            drop()


if __name__ == "__main__":
    main()
