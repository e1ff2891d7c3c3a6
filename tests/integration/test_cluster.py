"""Two `medtalk serve` processes and a worker behind a real nginx, on private PostgreSQL, Redis
and RabbitMQ instances; faults under a steady message load.

Each fault test asserts: every acknowledged message is stored exactly once and reaches the
other side exactly once, in seq order (live, or by `lastSeq` recovery after a reconnect).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cluster import Cluster, ClusterClient, Stats, missing_binaries, start_cluster
from world import LiveServer, Person, World, eventually

pytestmark = pytest.mark.timeout(150)

PAIRS = 10  # conversations under load
PER_PAIR = 10  # messages each: 100 messages at 20 msg/s, ~5 s
RATE_PER_PAIR = 2.0  # messages per second per conversation (stays under 30/minute/user)
RESULTS: list[Stats] = []


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = missing_binaries()
    if missing:
        message = f"cluster tests need {', '.join(missing)} (scripts/test-deps.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    workdir: Path = tmp_path_factory.mktemp("cluster")
    yield from start_cluster(workdir)
    if RESULTS:
        table = "\n".join(stats.row() for stats in RESULTS)
        print("\n| fault | load | sent | acked | received | lost | duplicates | errors seen |")
        print("|---|---|---|---|---|---|---|---|\n" + table)
        (workdir / "results.md").write_text(table + "\n")


@pytest.fixture
async def world(cluster: Cluster) -> AsyncIterator[World]:
    server = LiveServer(cluster.url, cluster.settings(), "cluster", None)
    async with World(server) as world:
        yield world


async def client(
    world: World, person: Person, cluster: Cluster, node: str, index: int = 0
) -> ClusterClient:
    sources = cluster.sources_on(node)
    connection = ClusterClient(world, person.token, sources[index % len(sources)])
    await connection.connect()
    return connection


async def sql(cluster: Cluster, query: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_async_engine(cluster.postgres.url)
    try:
        async with engine.connect() as connection:
            return list(await connection.execute(sa.text(query), params))
    finally:
        await engine.dispose()


# --- a plain conversation across two nodes ------------------------------------------------


async def test_patient_and_doctor_on_different_nodes_chat_type_read_and_see_presence(
    cluster: Cluster, world: World
) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket = await client(world, patient, cluster, "node-a")
    doctor_socket = await client(world, doctor, cluster, "node-b")
    try:
        await patient_socket.join(conversation)
        await doctor_socket.join(conversation)
        ack = await patient_socket.send(conversation, "Chào bác sĩ", "hello-1", Stats("basic"))
        await eventually(
            lambda: _true(doctor_socket.received.get(conversation) == [ack["seq"]]),
            5,
            "the doctor on node B receives the patient's message from node A",
        )
        assert (await doctor_socket.call("typing_start", {"conversationId": conversation}))["ok"]
        await eventually(
            lambda: _true(_has(patient_socket, "typing_start", doctor.id)),
            5,
            "typing crosses nodes",
        )
        await doctor_socket.call("mark_read", {"messageId": ack["messageId"]})
        await eventually(
            lambda: _true(any(e == "message_read" for e, _ in patient_socket.events)),
            5,
            "the read receipt crosses nodes",
        )

        seen = await doctor.get(f"/api/v1/chat/users/{patient.id}/presence")
        assert seen.status_code == 200 and seen.json()["online"] is True
        stranger = await world.patient("Người lạ")
        hidden = await stranger.get(f"/api/v1/chat/users/{patient.id}/presence")
        assert hidden.status_code == 404

        await patient_socket.close()
        await eventually(
            lambda: _true(_presence(doctor_socket, patient.id) is False),
            5,
            "the doctor on node B sees the patient go offline",
        )
        gone = (await doctor.get(f"/api/v1/chat/users/{patient.id}/presence")).json()
        assert gone["online"] is False and gone["lastSeen"]
    finally:
        await patient_socket.close()
        await doctor_socket.close()


async def _true(value: bool) -> bool:
    return value


def _has(connection: ClusterClient, event: str, user_id: uuid.UUID) -> bool:
    return any(e == event and d.get("userId") == str(user_id) for e, d in connection.events)


def _presence(connection: ClusterClient, user_id: uuid.UUID) -> bool | None:
    states = [
        d["online"] for e, d in connection.events if e == "presence" and d["userId"] == str(user_id)
    ]
    return states[-1] if states else None


# --- rate limits shared by the nodes ------------------------------------------------------


async def test_31st_message_in_a_minute_is_refused_on_rest_and_socket_across_nodes(
    cluster: Cluster, world: World
) -> None:
    patient, _doctor, conversation = await world.consultation()
    node_a, node_b = cluster.nodes
    socket_b = await client(world, patient, cluster, "node-b")
    try:
        for i in range(15):
            response = await patient.post(
                f"{node_a.url}/api/v1/chat/messages/send",
                json={"conversationId": conversation, "content": f"A{i}", "contentType": "TEXT"},
            )
            assert response.status_code == 201, response.text
            ack = await socket_b.call(
                "send_message",
                {"conversationId": conversation, "content": f"B{i}", "contentType": "TEXT"},
            )
            assert "error" not in ack, ack
        refused = await patient.post(
            f"{node_a.url}/api/v1/chat/messages/send",
            json={"conversationId": conversation, "content": "31st", "contentType": "TEXT"},
        )
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        ack = await socket_b.call(
            "send_message",
            {"conversationId": conversation, "content": "32nd", "contentType": "TEXT"},
        )
        assert ack["error"]["code"] == "RATE_LIMITED" and ack["error"]["retryAfter"] >= 1
        rows = await sql(
            cluster,
            "SELECT count(*) FROM chat_messages WHERE conversation_id = :c",
            c=uuid.UUID(conversation),
        )
        assert rows[0][0] == 30  # nothing stored for the refused ones
    finally:
        await socket_b.close()


# --- faults under load --------------------------------------------------------------------


@dataclass
class Pair:
    patient: Person
    doctor: Person
    conversation: str
    sender: ClusterClient
    receiver: ClusterClient | None
    acked: list[int]


async def make_pairs(
    world: World, cluster: Cluster, count: int, *, online: bool = True
) -> list[Pair]:
    pairs = []
    for index in range(count):
        patient, doctor, conversation = await world.consultation()
        sender_node, receiver_node = (
            ("node-a", "node-b") if index % 2 == 0 else ("node-b", "node-a")
        )
        sender = await client(world, patient, cluster, sender_node, index)
        await sender.join(conversation)
        receiver = None
        if online:
            receiver = await client(world, doctor, cluster, receiver_node, index)
            await receiver.join(conversation)
        pairs.append(Pair(patient, doctor, conversation, sender, receiver, []))
    return pairs


async def run_load(
    name: str, pairs: list[Pair], fault: Callable[[], Awaitable[None]], stats: Stats
) -> None:
    stats.load = (
        f"{len(pairs)} conversations x {PER_PAIR} msgs at {RATE_PER_PAIR * len(pairs):g} msg/s"
    )
    start = time.monotonic()

    async def sender(index: int, pair: Pair) -> None:
        for i in range(PER_PAIR):
            # Paces the load: RATE_PER_PAIR messages a second.
            await asyncio.sleep(max(0.0, start + i / RATE_PER_PAIR - time.monotonic()))
            stats.sent += 1
            ack = await pair.sender.send(
                pair.conversation, f"{name} {i}", f"{name}-{index}-{i}", stats
            )
            stats.acked += 1
            pair.acked.append(ack["seq"])

    await asyncio.gather(*(sender(i, pair) for i, pair in enumerate(pairs)), fault())


async def check_delivered(cluster: Cluster, pairs: list[Pair], stats: Stats) -> None:
    """Every acknowledged message stored once and received once, in order."""
    expected = list(range(1, PER_PAIR + 1))
    assert "INTERNAL" not in stats.errors, stats.errors  # failures are clear, never a 500
    for pair in pairs:
        assert pair.acked == expected, f"acks out of order or duplicated: {pair.acked}"
    receivers = [pair for pair in pairs if pair.receiver is not None]

    async def all_received() -> bool:
        return all(
            pair.receiver is not None
            and len(pair.receiver.received.get(pair.conversation, [])) >= PER_PAIR
            for pair in receivers
        )

    try:
        await eventually(all_received, 25, "every receiver has every message")
    finally:
        for pair in receivers:
            assert pair.receiver is not None
            got = pair.receiver.received.get(pair.conversation, [])
            stats.received += len(set(got))
            stats.duplicates += len(got) - len(set(got))
        stats.lost = len(receivers) * PER_PAIR - stats.received
        RESULTS.append(stats)
    for pair in receivers:
        assert pair.receiver is not None
        assert pair.receiver.received[pair.conversation] == expected
    for pair in pairs:
        rows = await sql(
            cluster,
            "SELECT count(*), count(DISTINCT client_message_id), max(seq), "
            "(SELECT last_seq FROM conversations WHERE id = :c) "
            "FROM chat_messages WHERE conversation_id = :c",
            c=uuid.UUID(pair.conversation),
        )
        assert tuple(rows[0]) == (PER_PAIR, PER_PAIR, PER_PAIR, PER_PAIR)


async def close_all(pairs: list[Pair]) -> None:
    for pair in pairs:
        await pair.sender.close()
        if pair.receiver is not None:
            await pair.receiver.close()


async def test_redis_restart_under_load(cluster: Cluster, world: World) -> None:
    pairs = await make_pairs(world, cluster, PAIRS)
    stats = Stats("Redis restarted (down ~1 s)")

    async def fault() -> None:
        await asyncio.sleep(2)  # faults are timed against the running load, in real seconds
        cluster.redis.stop()
        await asyncio.sleep(1)  # the outage's length
        await asyncio.to_thread(cluster.redis.start)

    try:
        await run_load("redis", pairs, fault, stats)
        await check_delivered(cluster, pairs, stats)
    finally:
        await close_all(pairs)


async def test_rabbitmq_restart_under_load_loses_and_repeats_no_job(
    cluster: Cluster, world: World
) -> None:
    pairs = await make_pairs(world, cluster, PAIRS - 2)
    offline = await make_pairs(world, cluster, 2, online=False)  # their doctors get notified
    stats = Stats("RabbitMQ restarted (down ~5 s)")

    async def fault() -> None:
        await asyncio.sleep(1.5)  # into the running load (real processes, real seconds)
        await asyncio.to_thread(cluster.rabbitmq.stop)
        await asyncio.to_thread(cluster.rabbitmq.start)

    try:
        await run_load("rabbitmq", pairs + offline, fault, stats)
        stats.load += " (2 of them to offline doctors: notified instead)"
        await check_delivered(cluster, pairs + offline, stats)

        def told(pair: Pair) -> int:
            """Messages the doctor was told of: the counts of coalesced notifications add up."""
            return sum(body["count"] for _, body in cluster.webhook.for_user(pair.doctor.id))

        async def notified() -> bool:
            return all(told(p) >= PER_PAIR for p in offline)

        await eventually(notified, 60, "each offline doctor told of every message")
        await asyncio.sleep(1.5)  # nothing to await: a repeat would arrive now
        for pair in offline:
            calls = cluster.webhook.for_user(pair.doctor.id)
            keys = [key for key, _ in calls]
            # Coalesced (fewer notifications than messages), none repeated, none missed.
            assert told(pair) == PER_PAIR and len(set(keys)) == len(calls) < PER_PAIR
            assert all("content" not in body for _, body in calls)
            assert {body["conversationId"] for _, body in calls} == {pair.conversation}
        for pair in pairs:
            assert cluster.webhook.for_user(pair.doctor.id) == []  # online: not notified
        rows = await sql(cluster, "SELECT count(*) FROM outbox WHERE kind = 'notify_offline'")
        assert int(rows[0][0]) == 0  # and no job was left behind
    finally:
        await close_all(pairs + offline)


async def test_postgres_unavailable_for_seconds_under_load(cluster: Cluster, world: World) -> None:
    pairs = await make_pairs(world, cluster, PAIRS)
    stats = Stats("PostgreSQL stopped ~3 s")
    outage_errors: list[httpx.Response] = []

    async def fault() -> None:
        await asyncio.sleep(1.5)  # into the running load (real processes, real seconds)
        await asyncio.to_thread(cluster.postgres.stop)
        response = await pairs[0].patient.post(
            f"{cluster.nodes[0].url}/api/v1/chat/messages/send",
            json={
                "conversationId": pairs[0].conversation,
                "content": "x",
                "contentType": "TEXT",
                "clientMessageId": "during-outage",
            },
        )
        outage_errors.append(response)
        await asyncio.sleep(3)  # the outage's length
        await asyncio.to_thread(cluster.postgres.start)

    try:
        await run_load("postgres", pairs, fault, stats)
        assert outage_errors[0].status_code == 503
        assert outage_errors[0].json()["error"]["code"] == "UNAVAILABLE"
        assert stats.errors.get("UNAVAILABLE", 0) > 0, stats.errors  # clear error acks
        await check_delivered(cluster, pairs, stats)
    finally:
        await close_all(pairs)


async def test_node_killed_under_load_clients_move_to_the_other_node(
    cluster: Cluster, world: World
) -> None:
    pairs = await make_pairs(world, cluster, PAIRS)
    bystander, watcher, conversation = await world.consultation()
    gone_socket = await client(world, bystander, cluster, "node-a")
    gone_socket.stays_down()  # this one does not reconnect: it must turn offline
    watcher_socket = await client(world, watcher, cluster, "node-b")
    stats = Stats("node A killed (kill -9)")

    async def fault() -> None:
        await asyncio.sleep(2)  # into the running load (real processes, real seconds)
        cluster.nodes[0].kill9()

    try:
        await run_load("kill", pairs, fault, stats)
        await check_delivered(cluster, pairs, stats)
        moved = [p for p in pairs if p.sender.reconnects or (p.receiver and p.receiver.reconnects)]
        assert len(moved) >= PAIRS // 2  # everyone on node A came back through node B
        await eventually(
            lambda: _true(_presence(watcher_socket, bystander.id) is False),
            15,
            "the dead node's user is reported offline",
        )
        seen = (await watcher.get(f"/api/v1/chat/users/{bystander.id}/presence")).json()
        assert seen["online"] is False
        assert conversation
    finally:
        await close_all(pairs)
        await gone_socket.close()
        await watcher_socket.close()
