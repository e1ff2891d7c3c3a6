"""Refused requests cannot grow the audit trail without limit (issue 16): per client and
window a few are rows, the rest one counted summary; successful reads are all rows."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Iterator

import pytest

from world import LiveServer, World, start_server

PER_WINDOW, WINDOW = 20, 3.0
BURST = 300


@pytest.fixture(params=["sqlite", "postgresql"])
def sampled_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    with start_server(
        tmp_path_factory.mktemp("refusals"),
        url,
        backend=request.param,
        audit_refusals_per_window=PER_WINDOW,
        audit_refusal_window_seconds=WINDOW,
    ) as live:
        yield live


async def test_refusals_are_sampled_per_client_and_every_one_is_counted(
    sampled_server: LiveServer,
) -> None:
    async with World(sampled_server) as world:
        patient, _doctor, conversation = await world.consultation()
        agent = {"User-Agent": f"probe-{uuid.uuid4().hex}"}
        path = f"/api/v1/chat/conversations/{conversation}/messages"
        started = time.monotonic()
        for round_ in range(BURST):
            assert (await world.http.get(path, headers=agent)).status_code == 401
            if round_ % 100 == 0:  # reads of health information in between: always rows
                await patient.history(conversation)
        windows = math.ceil((time.monotonic() - started) / WINDOW) + 1

        async def tally() -> tuple[int, int]:
            rows = await world.server.sql(
                "SELECT action, detail FROM audit_log WHERE user_agent = :agent",
                agent=agent["User-Agent"],
            )
            written = sum(row.action != "audit.refusals_suppressed" for row in rows)
            counted = sum(
                int(row.detail.split()[0])
                for row in rows
                if row.action == "audit.refusals_suppressed"
            )
            return written, counted

        for _ in range(100):  # the last window's summary comes when it ends
            written, counted = await tally()
            if written + counted >= BURST:
                break
            await asyncio.sleep(0.1)  # rows in the database: polled
        print(f"{BURST} refusals in {windows} windows: {written} rows, {counted} counted")
        assert written + counted == BURST
        assert counted > 0 and written <= PER_WINDOW * windows < BURST
        reads = await world.server.audit_rows(actor_id=patient.id, action="message.history")
        assert len(reads) == 3
