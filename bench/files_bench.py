"""Large-file upload benchmark: throughput and the server's peak memory, per storage backend.

    .venv/bin/python bench/files_bench.py [--size-mb 200] [--backends local,s3]

Runs `medtalk serve` as a subprocess (SQLite, no malware scanner) for each backend: local disk
(AES-256-GCM) and S3 (moto's standalone S3 server on loopback, a protocol-level emulator; the
same code talks to MinIO/AWS). Uploads one file of --size-mb through the spec's multipart
endpoint, downloads it back, and samples the server's RSS from /proc every 20 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from medtalk.core.auth import Role, mint_token
from medtalk.settings import Settings

MiB = 1024 * 1024
JWT_SECRET = "bench-only-jwt-secret-0123456789abcdef0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    import boto3

    port = free_port()
    command = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert command, "moto_server not installed (dev dependency moto[server])"
    process = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for(endpoint, process, "moto_server")
        env = {
            "MEDTALK_STORAGE_URL": "s3://medtalk-bench/chat-files",
            "MEDTALK_S3_ENDPOINT_URL": endpoint,
            "MEDTALK_S3_REGION": "us-east-1",
            "MEDTALK_S3_ACCESS_KEY_ID": "bench-only",
            "MEDTALK_S3_SECRET_ACCESS_KEY": "bench-only",
        }
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench-only",
            aws_secret_access_key="bench-only",
        ).create_bucket(Bucket="medtalk-bench")
        yield env
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def medtalk_server(
    data_dir: Path, size: int, extra_env: dict[str, str]
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "MEDTALK_DATA_DIR": str(data_dir),
        "MEDTALK_JWT_SECRET": JWT_SECRET,
        "MEDTALK_MAX_UPLOAD_BYTES": str(size + MiB),
        "MEDTALK_MAX_FILE_BYTES": str(size + MiB),
        "MEDTALK_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    medtalk = Path(sys.executable).parent / "medtalk"
    process = subprocess.Popen(
        [str(medtalk), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", process, "medtalk")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        out.write(b"%PDF-1.4\n")
        digest.update(b"%PDF-1.4\n")
        left = size - 9
        while left > 0:
            piece = os.urandom(min(MiB, left))
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


def run(
    backend: str, source: Path, expected: str, env: dict[str, str], work: Path
) -> dict[str, float]:
    size = source.stat().st_size
    settings = Settings(jwt_secret=JWT_SECRET)
    patient_id, doctor_id = uuid.uuid4(), uuid.uuid4()
    patient = {"Authorization": "Bearer " + mint_token(settings, patient_id, "P", Role.PATIENT)}
    doctor = {"Authorization": "Bearer " + mint_token(settings, doctor_id, "D", Role.DOCTOR)}
    with (
        medtalk_server(work / backend, size, env) as (base, pid),
        httpx.Client(base_url=base, timeout=600) as http,
    ):
        http.get("/api/v1/chat/conversations", headers=doctor).raise_for_status()
        created = http.post(
            "/api/v1/chat/conversations/create", json={"doctorId": str(doctor_id)}, headers=patient
        )
        conversation = created.json()["conversationId"]
        # Warm up (imports, S3 client and its service model), then measure from here.
        http.post(
            "/api/v1/chat/messages/upload",
            data={"conversationId": conversation},
            files={"file": ("a.pdf", b"%PDF-1.4\n", "application/pdf")},
            headers=patient,
        ).raise_for_status()
        baseline = rss_bytes(pid)
        with RssSampler(pid) as upload_rss, source.open("rb") as body:
            started = time.perf_counter()
            response = http.post(
                "/api/v1/chat/messages/upload",
                data={"conversationId": conversation, "fileType": "FILE"},
                files={"file": ("big.pdf", body, "application/pdf")},
                headers=patient,
            )
            upload_seconds = time.perf_counter() - started
        response.raise_for_status()
        digest = hashlib.sha256()
        with RssSampler(pid) as download_rss:
            started = time.perf_counter()
            with http.stream("GET", response.json()["fileUrl"]) as download:
                for piece in download.iter_bytes(MiB):
                    digest.update(piece)
            download_seconds = time.perf_counter() - started
        assert digest.hexdigest() == expected, "downloaded bytes differ"
    return {
        "upload_mb_s": size / MiB / upload_seconds,
        "download_mb_s": size / MiB / download_seconds,
        "baseline_mib": baseline / MiB,
        "upload_peak_mib": upload_rss.peak / MiB,
        "download_peak_mib": download_rss.peak / MiB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--backends", default="local,s3")
    args = parser.parse_args()
    size = args.size_mb * MiB
    with tempfile.TemporaryDirectory(prefix="medtalk-files-bench-") as tmp:
        work = Path(tmp)
        source = work / "big.pdf"
        expected = make_file(source, size)
        results = {}
        for backend in args.backends.split(","):
            if backend == "local":
                results[backend] = run(backend, source, expected, {}, work)
            else:
                with moto_s3() as env:
                    results[backend] = run(backend, source, expected, env, work)
    print(f"\n{args.size_mb} MiB file, server RSS sampled every 20 ms")
    columns = ["upload MB/s", "download MB/s", "RSS before", "peak RSS up", "peak RSS down"]
    print("| backend | " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|")
    for backend, r in results.items():
        print(
            f"| {backend} | {r['upload_mb_s']:.0f} | {r['download_mb_s']:.0f} | "
            f"{r['baseline_mib']:.0f} MiB | {r['upload_peak_mib']:.0f} MiB | "
            f"{r['download_peak_mib']:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
