"""Search in encrypted history: latency over 100,000 messages and the blind index's size.

.venv/bin/python bench/search_bench.py [--messages 100000] [--queries 300]
    [--backends sqlite,postgresql] [--http] [--clients 4] [--keep DIR]

Writes the messages through the chat service's own code (sealed rows, index terms in the same
transaction, 1,000 messages a transaction), then times SearchService.search in-process (index
lookup, loading and decrypting the candidates, checking their words) for three callers: a
patient (one conversation, 200 messages), a doctor (10 conversations) and a busy doctor (100
conversations, 20,000 messages). Queries are one or two words of the messages' vocabulary,
typed with or without diacritics. Index size: SQLite's dbstat, PostgreSQL's
pg_total_relation_size, for search_terms and search_conversations.

--http also times GET /api/v1/chat/search against `medtalk serve` (a process of its own, over
the same database): the whole request (token check, search, audit row), one client at a time,
then `--clients` at once. --keep DIR keeps the SQLite database (and its dev key) in DIR and
reuses it on the next run (PostgreSQL: a fresh database each run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from medtalk.audit.context import RequestContext  # noqa: E402
from medtalk.chat import store as chat_store  # noqa: E402
from medtalk.chat.schemas import ContentType  # noqa: E402
from medtalk.cli.common import open_container  # noqa: E402
from medtalk.core.auth import Principal, Role  # noqa: E402
from medtalk.db.tables import conversations  # noqa: E402
from medtalk.search.index import Written  # noqa: E402
from medtalk.search.service import SearchService  # noqa: E402
from medtalk.search.tokens import fold  # noqa: E402
from world import (  # noqa: E402
    TEST_JWT_SECRET,
    postgres_admin_url,
    test_settings,
    try_create_database,
)

PER_CONVERSATION = 200
SYMPTOMS = [
    "sốt",
    "ho",
    "đau đầu",
    "đau bụng",
    "buồn nôn",
    "chóng mặt",
    "mệt mỏi",
    "khó thở",
    "phát ban",
    "tiêu chảy",
    "đau họng",
    "sổ mũi",
    "mất ngủ",
    "đau lưng",
    "ngứa",
]
DRUGS = [
    "paracetamol",
    "ibuprofen",
    "amoxicillin",
    "omeprazole",
    "loratadine",
    "metformin",
    "salbutamol",
    "cetirizine",
    "vitamin C",
    "oresol",
    "berberin",
    "aspirin",
]
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


async def callers(rt: Any) -> dict[str, list[Principal]]:
    """The three kinds of caller, from the conversations stored (a kept database's too)."""
    async with rt.db.read() as db:
        rows = (
            await db.execute(sa.select(conversations.c.user_id, conversations.c.doctor_id))
        ).all()
    per_doctor: dict[uuid.UUID, int] = {}
    for row in rows:
        per_doctor[row.doctor_id] = per_doctor.get(row.doctor_id, 0) + 1
    busy = max(per_doctor, key=lambda d: per_doctor[d])
    return {
        "patient": [Principal(row.user_id, "BN", Role.PATIENT) for row in rows],
        "doctor": [Principal(d, "BS", Role.DOCTOR) for d in per_doctor if d != busy],
        "busy": [Principal(busy, "BS", Role.DOCTOR)],
    }


Search = Callable[[Principal, str], Awaitable[int]]


async def timed(search: Search, people: dict[str, list[Principal]], queries: int, clients: int,
                rng: random.Random) -> dict[str, Any]:  # fmt: skip
    """p50/p95/p99 per caller kind: `queries` searches, `clients` at a time."""
    vocabulary = SYMPTOMS + DRUGS
    results: dict[str, Any] = {}
    for kind, group in people.items():
        plan = [(rng.choice(group), rng.choice(vocabulary)) for _ in range(queries)]
        plan = [(c, fold(q) if rng.random() < 0.5 else q) for c, q in plan]  # no diacritics
        timings: list[float] = []
        found = await asyncio.gather(
            *(client(search, plan[i::clients], timings) for i in range(clients))
        )
        timings.sort()
        results[kind] = {
            "p50": statistics.median(timings),
            "p95": timings[int(len(timings) * 0.95) - 1],
            "p99": timings[int(len(timings) * 0.99) - 1],
            "hits": sum(found) / queries,
        }
    return results


async def client(search: Search, plan: list[tuple[Principal, str]], timings: list[float]) -> int:
    """One client's searches, one after the other; returns how many results they had."""
    hits = 0
    for caller, query in plan:
        begun = time.perf_counter()
        hits += await search(caller, query)
        timings.append((time.perf_counter() - begun) * 1000)
    return hits


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.keep) if args.keep and not url else Path(tempfile.mkdtemp())
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = test_settings(data_dir, url)
    rng = random.Random(19)
    async with open_container(settings) as rt:
        async with rt.db.read() as db:
            stored = int(await db.scalar(sa.text("SELECT count(*) FROM chat_messages")) or 0)
        started = time.perf_counter()
        if stored < args.messages:
            await populate(rt, args.messages - stored, rng)
        loaded = time.perf_counter() - started
        async with rt.db.transaction() as db:
            await db.execute(sa.text("ANALYZE"))
        size = await index_bytes(rt)
        async with rt.db.read() as db:
            stored = await db.scalar(sa.text("SELECT count(*) FROM chat_messages"))
        people = await callers(rt)
        service = SearchService(rt.db, rt.keys, rt.chat, rt.audit)

        async def in_process(caller: Principal, query: str) -> int:
            page = await service.search(RequestContext(caller), query, None, None, 20)
            return len(page.messages)

        results: dict[str, Any] = {"messages": stored, "index_bytes": size, "load_s": loaded}
        results["in-process"] = await timed(in_process, people, args.queries, 1, rng)
    if args.http:
        with serve(settings) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                search = over_http(http)
                await timed(search, people, 20, 1, rng)  # warm-up: users, revocation cache
                results["http"] = await timed(search, people, args.queries, 1, rng)
                results[f"http x{args.clients}"] = await timed(
                    search, people, args.queries, args.clients, rng
                )
    return results


def over_http(http: httpx.AsyncClient) -> Search:
    tokens: dict[uuid.UUID, str] = {}

    async def search(caller: Principal, query: str) -> int:
        if caller.user_id not in tokens:
            claims = {"sub": str(caller.user_id), "name": caller.name, "role": caller.role.value,
                      "exp": int(time.time()) + 3600}  # fmt: skip
            tokens[caller.user_id] = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
        answer = await http.get(
            "/api/v1/chat/search",
            params={"q": query, "limit": 20},
            headers={"Authorization": f"Bearer {tokens[caller.user_id]}"},
        )
        answer.raise_for_status()
        return len(answer.json()["messages"])

    return search


class serve:  # noqa: N801 - used as a context manager, like open()
    """`medtalk serve` over the bench's database, in a process of its own."""

    def __init__(self, settings: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.env = os.environ | {
            "MEDTALK_DATA_DIR": str(settings.data_dir),
            "MEDTALK_DATABASE_URL": settings.database_url,
            "MEDTALK_JWT_SECRET": TEST_JWT_SECRET,
            "MEDTALK_HOST": "127.0.0.1",
            "MEDTALK_PORT": str(self.port),
            "MEDTALK_LOG_LEVEL": "WARNING",
        }

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "medtalk.cli", "serve"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code < 500:
                    return f"http://127.0.0.1:{self.port}"
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("medtalk serve did not start")

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        self.process.wait(15)


def report(name: str, results: dict[str, Any]) -> None:
    per_message = results["index_bytes"] / results["messages"]
    print(f"{name}: {results['messages']} messages (written in {results['load_s']:.0f} s); "
          f"index {results['index_bytes'] / 1e6:.1f} MB = {per_message:.0f} bytes/message")  # fmt: skip
    for mode in ("in-process", "http", *[k for k in results if k.startswith("http x")]):
        if mode not in results:
            continue
        for kind in ("patient", "doctor", "busy"):
            r = results[mode][kind]
            print(f"  {mode:10} {kind:8} p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
                  f"p99 {r['p99']:6.1f} ms  ({r['hits']:.1f} results/query)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--http", action="store_true", help="also time GET /api/v1/chat/search")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--keep", help="SQLite: keep (and reuse) the database in this folder")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        report("sqlite", asyncio.run(measure("", args)))
    if "postgresql" in backends:
        url, drop, problem = try_create_database(
            postgres_admin_url(), f"bench_{uuid.uuid4().hex[:8]}"
        )
        if problem:
            print(f"postgresql: skipped ({problem})")
            return
        try:
            report("postgresql", asyncio.run(measure(url, args)))
        finally:
            drop()


if __name__ == "__main__":
    main()
