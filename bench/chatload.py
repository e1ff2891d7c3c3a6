"""Chat load benchmark: offered message rate stepped to saturation, and idle-connection memory.

    .venv/bin/python bench/chatload.py --scenario sqlite --scenario postgresql --scenario node
    .venv/bin/python bench/chatload.py --idle 1000,5000,10000,20000

Each scenario starts its server as a subprocess on loopback, opens N patient/doctor pairs
(each pair a conversation), has patients send at a fixed total rate for a few seconds per step,
and measures what doctors receive: delivered msg/s, send-to-receive latency percentiles, ack
latency, errors, server CPU and peak RSS. Results go to bench/results/ (JSON) and are printed as
a Markdown table. Loops are bounded in count and time; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from sioclient import SioClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BENCH_SECRET = "bench-only-jwt-secret-0123456789abcdef0123456789"
NAMESPACE = "/ws/chat"
DEFAULT_RATES = [250, 500, 1000, 2000, 3000, 4000, 5000]


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    persistent: bool

    def stop(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        if self.process.poll() is None:
            self.process.kill()


def wait_ready(url: str, process: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + path, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def start_medtalk(scenario: str, workdir: Path, extra_env: dict[str, str]) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "MEDTALK_DATA_DIR": str(workdir / scenario),
        "MEDTALK_JWT_SECRET": BENCH_SECRET,
        "MEDTALK_LOG_LEVEL": "WARNING",
        "MEDTALK_PORT": str(port),
        **extra_env,
    }
    if scenario == "postgresql":
        env["MEDTALK_DATABASE_URL"] = create_postgres_database()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/medtalk"), "serve"], env=env, preexec_fn=raise_file_limit
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process, "/healthz")
    return Server(scenario, url, process, persistent=True)


def start_node_baseline() -> Server:
    port = free_port()
    directory = ROOT / "bench" / "node-baseline"
    if not (directory / "node_modules").exists():
        subprocess.run(
            ["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=directory, check=True
        )
    process = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=directory,
        env={**os.environ, "PORT": str(port)},
        preexec_fn=raise_file_limit,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process, "/socket.io/?EIO=4&transport=polling")
    return Server("node", url, process, persistent=False)


def create_postgres_database() -> str:
    import asyncpg

    name = f"medtalk_bench_{uuid.uuid4().hex[:8]}"
    admin = os.environ.get("MEDTALK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

    async def create() -> None:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    asyncio.run(create())
    return admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def token(user_id: uuid.UUID, role: str) -> str:
    import jwt

    claims = {
        "sub": str(user_id),
        "name": f"{role.title()} {str(user_id)[:4]}",
        "role": role,
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, BENCH_SECRET, algorithm="HS256")


@dataclass
class Pair:
    conversation_id: str
    patient: SioClient
    doctor: SioClient


@dataclass
class StepResult:
    offered_per_s: int
    sent: int
    acked: int
    delivered: int
    errors: int
    delivered_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float
    ack_p99_ms: float
    server_cpu_pct: float
    server_rss_mb: float


@dataclass
class Recorder:
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    ack_latencies: list[float] = field(default_factory=list)
    errors: int = 0
    acked: int = 0

    def on_event(self, event: str, data: Any) -> None:
        if event == "message_received":
            started = self.sent_at.pop(data["content"], None)
            if started is not None:
                self.latencies.append(time.perf_counter() - started)


async def open_pairs(server: Server, count: int, recorder: Recorder) -> list[Pair]:
    pairs: list[Pair] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for _ in range(count):
            patient_id, doctor_id = uuid.uuid4(), uuid.uuid4()
            patient_token, doctor_token = token(patient_id, "PATIENT"), token(doctor_id, "DOCTOR")
            conversation = str(uuid.uuid4())
            if server.persistent:
                await http.get("/api/v1/chat/conversations", headers=_auth(doctor_token))
                response = await http.post(
                    "/api/v1/chat/conversations/create",
                    json={"doctorId": str(doctor_id)},
                    headers=_auth(patient_token),
                )
                response.raise_for_status()
                conversation = response.json()["conversationId"]
            patient = SioClient(server.url, NAMESPACE, patient_token, lambda *_: None)
            doctor = SioClient(server.url, NAMESPACE, doctor_token, recorder.on_event)
            await patient.connect()
            await doctor.connect()
            await doctor.emit("join_conversation", {"conversationId": conversation})
            pairs.append(Pair(conversation, patient, doctor))
    return pairs


def _auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def run_step(
    server: Server, pairs: list[Pair], rate: int, seconds: float, recorder: Recorder
) -> StepResult:
    process = psutil.Process(server.process.pid)
    recorder.latencies.clear()
    recorder.ack_latencies.clear()
    recorder.errors = recorder.acked = 0
    recorder.sent_at.clear()
    cpu_before = sum(process.cpu_times()[:2])
    peak_rss = process.memory_info().rss
    tick = 0.01
    per_tick = rate * tick
    budget = 0.0
    sent = 0
    pending: set[asyncio.Task[None]] = set()

    async def send(pair: Pair, content: str) -> None:
        started = time.perf_counter()
        recorder.sent_at[content] = started
        try:
            ack = await pair.patient.emit(
                "send_message",
                {"conversationId": pair.conversation_id, "content": content, "contentType": "TEXT"},
            )
            if isinstance(ack, dict) and "error" in ack:
                recorder.errors += 1
            else:
                recorder.acked += 1
                recorder.ack_latencies.append(time.perf_counter() - started)
        except (TimeoutError, ConnectionError, OSError):
            recorder.errors += 1

    began = time.perf_counter()
    next_tick = began
    while time.perf_counter() - began < seconds:
        budget += per_tick
        while budget >= 1:
            budget -= 1
            pair = pairs[sent % len(pairs)]
            task = asyncio.create_task(send(pair, f"m{rate}-{sent}"))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
        if sent % 200 == 0:
            peak_rss = max(peak_rss, process.memory_info().rss)
    elapsed = time.perf_counter() - began
    drain_deadline = time.perf_counter() + 5
    # Poll (bounded): deliveries land in a callback, there is no single event to wait on.
    while (pending or recorder.sent_at) and time.perf_counter() < drain_deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    peak_rss = max(peak_rss, process.memory_info().rss)
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    wall = time.perf_counter() - began
    lat = sorted(recorder.latencies) or [float("nan")]
    acks = sorted(recorder.ack_latencies) or [float("nan")]
    return StepResult(
        offered_per_s=rate,
        sent=sent,
        acked=recorder.acked,
        delivered=len(recorder.latencies),
        errors=recorder.errors,
        delivered_per_s=round(len(recorder.latencies) / elapsed, 1),
        p50_ms=_ms(_pct(lat, 50)),
        p95_ms=_ms(_pct(lat, 95)),
        p99_ms=_ms(_pct(lat, 99)),
        max_ms=_ms(lat[-1]),
        ack_p50_ms=_ms(_pct(acks, 50)),
        ack_p99_ms=_ms(_pct(acks, 99)),
        server_cpu_pct=round(100 * cpu / wall, 1),
        server_rss_mb=round(peak_rss / 2**20, 1),
    )


def _pct(values: list[float], percentile: float) -> float:
    index = min(len(values) - 1, max(0, round(percentile / 100 * len(values)) - 1))
    return values[index]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def throughput(
    server: Server, pairs_count: int, rates: list[int], seconds: float
) -> list[StepResult]:
    recorder = Recorder()
    pairs = await open_pairs(server, pairs_count, recorder)
    results: list[StepResult] = []
    try:
        await run_step(server, pairs, 100, 2, recorder)  # warm-up, not reported
        for rate in rates:
            result = await run_step(server, pairs, rate, seconds, recorder)
            results.append(result)
            print(
                f"  {server.name:>10} offered {rate:>5}/s -> {result.delivered_per_s:>7}/s "
                f"p50 {result.p50_ms} ms p99 {result.p99_ms} ms errors {result.errors}",
                flush=True,
            )
            saturated = result.delivered_per_s < 0.9 * rate or result.p99_ms > 1000
            if saturated:
                break
    finally:
        for pair in pairs:
            await pair.patient.close()
            await pair.doctor.close()
    return results


async def idle_memory(server: Server, counts: list[int]) -> list[dict[str, float]]:
    """Server RSS with N idle authenticated connections, minus RSS with none."""
    process = psutil.Process(server.process.pid)
    tokens = [token(uuid.uuid4(), "PATIENT") for _ in range(100)]
    # Provision the token users once, so connects below measure connections, not inserts.
    warm = [SioClient(server.url, NAMESPACE, t, lambda *_: None) for t in tokens]
    await asyncio.gather(*(client.connect() for client in warm))
    await asyncio.gather(*(client.close() for client in warm))
    await asyncio.sleep(1)
    rows = []
    for count in counts:
        base = process.memory_info().rss
        clients = [
            SioClient(server.url, NAMESPACE, tokens[i % 100], lambda *_: None) for i in range(count)
        ]
        started = time.perf_counter()
        await _connect_all(clients, parallel=200)
        took = time.perf_counter() - started
        await asyncio.sleep(2)
        rss = process.memory_info().rss
        rows.append(
            {
                "connections": count,
                "server_rss_mb": round(rss / 2**20, 1),
                "per_connection_kb": round((rss - base) / count / 1024, 1),
                "connect_s": round(took, 1),
            }
        )
        print(
            f"  {server.name:>10} {count:>6} idle connections: RSS {rows[-1]['server_rss_mb']} MB "
            f"({rows[-1]['per_connection_kb']} KB each), connected in {took:.1f} s",
            flush=True,
        )
        await asyncio.gather(*(client.close() for client in clients))
        await asyncio.sleep(2)
    return rows


COLUMNS = {
    "offered/s": "offered_per_s",
    "delivered/s": "delivered_per_s",
    "p50 ms": "p50_ms",
    "p95 ms": "p95_ms",
    "p99 ms": "p99_ms",
    "max ms": "max_ms",
    "ack p99 ms": "ack_p99_ms",
    "errors": "errors",
    "server CPU %": "server_cpu_pct",
    "peak RSS MB": "server_rss_mb",
}


async def _connect_all(clients: list[SioClient], parallel: int) -> None:
    gate = asyncio.Semaphore(parallel)

    async def connect(client: SioClient) -> None:
        async with gate:
            await client.connect()

    await asyncio.gather(*(connect(client) for client in clients))


def markdown(results: dict[str, list[StepResult]]) -> str:
    lines = ["| scenario | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, steps in results.items():
        for step in steps:
            values = " | ".join(str(getattr(step, key)) for key in COLUMNS.values())
            lines.append(f"| {name} | {values} |")
    return "\n".join(lines)


def plot(results: dict[str, list[StepResult]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for name, steps in results.items():
        offered = [s.offered_per_s for s in steps]
        for key, style in (("p50_ms", ":"), ("p99_ms", "-")):
            axis.plot(
                offered,
                [getattr(s, key) for s in steps],
                style,
                marker="o",
                label=f"{name} {key.split('_')[0]}",
            )
    axis.set_xlabel("offered messages/second")
    axis.set_ylabel("send-to-receive latency (ms)")
    axis.set_yscale("log")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", action="append", choices=["sqlite", "postgresql", "node"])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)))
    parser.add_argument("--idle", default="", help="comma-separated connection counts")
    parser.add_argument(
        "--idle-scenario", default="sqlite", choices=["sqlite", "postgresql", "node"]
    )
    args = parser.parse_args()
    raise_file_limit()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rates = [int(r) for r in args.rates.split(",") if r]
    results: dict[str, list[StepResult]] = {}
    report: dict[str, Any] = {
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        }
    }
    with tempfile.TemporaryDirectory(prefix="medtalk-bench-") as tmp:
        for scenario in args.scenario or []:
            server = (
                start_node_baseline()
                if scenario == "node"
                else start_medtalk(scenario, Path(tmp), {})
            )
            try:
                results[scenario] = asyncio.run(throughput(server, args.pairs, rates, args.seconds))
            finally:
                server.stop()
        if args.idle:
            counts = [int(c) for c in args.idle.split(",")]
            name = args.idle_scenario
            server = start_node_baseline() if name == "node" else start_medtalk(name, Path(tmp), {})
            try:
                report["idle"] = {name: asyncio.run(idle_memory(server, counts))}
            finally:
                server.stop()
    report["throughput"] = {name: [asdict(s) for s in steps] for name, steps in results.items()}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"chatload-{stamp}.json").write_text(json.dumps(report, indent=2))
    if results:
        print(markdown(results))
        plot(results, RESULTS / f"latency-{stamp}.png")
        print(f"plot: bench/results/latency-{stamp}.png")


if __name__ == "__main__":
    main()
