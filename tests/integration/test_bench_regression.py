"""A short fixed-rate chat load run (bench/chatload.py's own steps): a gross regression of the
send path fails `make test`, not only `make bench`.

10 patient/doctor pairs (both joined), 100 msg/s for 10 s, on SQLite, real `medtalk serve`
subprocess and real sockets. The bounds are generous on purpose: this machine is shared and
its latency moves by a factor of ten with the load; a healthy run delivers everything with a
p99 in the tens of milliseconds and a few ms of CPU per message. The latency bound grows with
the machine's load average per core (at load 40 on 2 cores the p50 was 7 s); CPU per message
hardly moves with it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import chatload  # noqa: E402


@pytest.mark.timeout(400)  # a busy machine starts the server slowly
def test_a_short_fixed_rate_run_on_sqlite_shows_no_gross_regression(tmp_path: Path) -> None:
    server = chatload.start("sqlite", tmp_path)

    async def run() -> chatload.StepResult:
        recorder = chatload.Recorder()
        pairs = await chatload.open_pairs(server, 10, recorder)
        try:
            await chatload.run_step(server, pairs, 20, 2, recorder)  # warm-up
            return await chatload.run_step(server, pairs, 100, 10, recorder, drain_seconds=60)
        finally:
            for pair in pairs:
                await pair.patient.close()
                await pair.doctor.close()

    try:
        step = asyncio.run(run())
    finally:
        server.stop()
    busy = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert step.sent >= 900
    assert step.errors == 0 and step.unanswered == 0, step
    assert step.delivered == step.sent, step  # every message reached the doctor
    assert step.p99_ms < 3000 * busy, (step, busy)
    assert step.cpu_ms_per_message < 25, step
