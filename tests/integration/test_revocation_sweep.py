"""Tokens revoked on another node end this node's sockets within one sweep, and the sweep's
cost does not grow with the sockets a node holds (an idle node with 20,000 sockets read two
rows per socket every 15 s before: 40,000 queries a sweep).

"Another node" is the revocation list of another process: its own engine on the same
database, writing as `POST /auth/logout` or `/admin/users/{id}/revoke-tokens` do there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.db.engine import Database, create_engine
from medtalk.sessions.database import DatabaseRevocationList
from world import LiveServer, World, start_server

SWEEP_SECONDS = 0.2


@pytest.fixture(params=["sqlite", "postgresql"])
def sweeping_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    database_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    with start_server(
        tmp_path,
        database_url,
        backend=request.param,
        revocation_sweep_seconds=SWEEP_SECONDS,
        revocation_cache_seconds=0.1,  # so a per-socket check would ask the database each sweep
    ) as server:
        yield server


@pytest.fixture
async def other_node(sweeping_server: LiveServer) -> AsyncIterator[DatabaseRevocationList]:
    engine = create_engine(sweeping_server.settings)
    yield DatabaseRevocationList(
        Database(engine, serialize_writes=sweeping_server.backend == "sqlite"), Clock(), 5.0
    )
    await engine.dispose()


async def test_revocations_made_on_another_node_end_only_their_sockets_here(
    sweeping_server: LiveServer, other_node: DatabaseRevocationList
) -> None:
    async with World(sweeping_server) as world:
        signed_out, logged_out, untouched = (
            await world.patient("Lê Văn Cường"),
            await world.patient("Phạm Thị Dung"),
            await world.doctor(),
        )
        tokens = {person.id: person.token for person in (signed_out, logged_out, untouched)}
        sockets = {
            person.id: await person.connects(tokens[person.id])
            for person in (signed_out, logged_out, untouched)
        }
        await other_node.revoke_user(signed_out.id)  # "sign out everywhere", there
        ended = await sockets[signed_out.id].events.next("session_ended", timeout=5)
        assert ended == {"reason": "TOKEN_REVOKED"}

        verifier = TokenVerifier(sweeping_server.settings, other_node)  # a logout there
        await other_node.revoke_token(await verifier.verify_bearer(tokens[logged_out.id]))
        ended = await sockets[logged_out.id].events.next("session_ended", timeout=5)
        assert ended == {"reason": "TOKEN_REVOKED"}

        await sockets[untouched.id].events.none("session_ended", within=5 * SWEEP_SECONDS)
        assert (await untouched.get("/api/v1/chat/conversations")).is_success


async def test_a_sweep_reads_the_same_whatever_the_number_of_sockets(
    sweeping_server: LiveServer,
) -> None:
    async with World(sweeping_server) as world:
        people = [await world.patient(f"Bệnh nhân {n}") for n in range(30)]
        for person in people:
            await person.connects()

        reads: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if "revoked_tokens" in statement or "token_cutoffs" in statement:
                reads.append(statement)

        engine = sweeping_server.container.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            await asyncio.sleep(6 * SWEEP_SECONDS)  # (a real wait: the sweep runs on its own)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    # About 6 sweeps of two reads each; one read per socket and sweep would be 180 or more.
    assert 2 <= len(reads) <= 2 * 8, reads
