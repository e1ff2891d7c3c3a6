"""A short fixed-rate chat load run (bench/chatload.py's own steps): a gross regression of the
send path fails `make test`, not only `make bench`.

10 patient/doctor pairs (both joined), 100 msg/s for 10 s, on SQLite, real `medtalk serve`
subprocess and real sockets. The bounds are generous on purpose: this machine is shared and
its latency moves by a factor of ten with the load; a healthy run delivers everything with a
p99 in the tens of milliseconds and a few ms of CPU per message.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import chatload  # noqa: E402


@pytest.mark.timeout(400)  # a busy machine starts the server slowly
def test_a_short_fixed_rate_run_on_sqlite_shows_no_gross_regression(tmp_path: Path) -> None:
    server = chatload.start("sqlite", tmp_path)
    try:
        steps, _ = asyncio.run(chatload.throughput(server, 10, [100], 10))
    finally:
        server.stop()
    step = steps[0]
    assert step.sent >= 900
    assert step.errors == 0 and step.unanswered == 0, step
    assert step.delivered == step.sent, step  # every message reached the doctor
    assert step.p99_ms < 3000, step
    assert step.cpu_ms_per_message < 25, step
