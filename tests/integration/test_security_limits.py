"""Request bodies are bounded before anyone reads them, and shutdown is bounded (issue 16).

These run `medtalk serve` as a subprocess, as operators do, so its memory can be measured
alone (resident set size from /proc) and SIGTERM behaves as in production."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from PIL import Image

from cluster import wait_port
from world import free_port

MB = 1024 * 1024
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RSS is read from /proc (Linux)")


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    @contextlib.contextmanager
    def peak_rss(self) -> Iterator[dict[str, float]]:
        """Samples the server's RSS every 5 ms while the block runs: {before, peak, after}."""
        figures = {"before": self.rss_mb()}
        figures["peak"] = figures["before"]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.005):
                figures["peak"] = max(figures["peak"], self.rss_mb())

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            yield figures
        finally:
            done.set()
            sampler.join()
            figures["after"] = self.rss_mb()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@contextlib.contextmanager
def medtalk_serve(data_dir: Path, **env: str) -> Iterator[Served]:
    port = free_port()
    environment = {
        **os.environ,
        "MEDTALK_DATA_DIR": str(data_dir),
        "MEDTALK_PORT": str(port),
        "MEDTALK_HOST": "127.0.0.1",
        "MEDTALK_LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "medtalk.cli", "serve"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, 120, process)
        yield Served(process, port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with medtalk_serve(
        tmp_path_factory.mktemp("served"), MEDTALK_REQUEST_BODY_IDLE_SECONDS="2"
    ) as server:
        yield server


def status_of(connection: socket.socket, timeout: float) -> int | None:
    """The status code of the answer on `connection`, or None if none came in time."""
    connection.settimeout(timeout)
    try:
        head = connection.recv(4096)
    except (TimeoutError, ConnectionResetError):
        return None
    return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None


def request_head(method: str, path: str, **headers: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *[f"{k}: {v}" for k, v in headers.items()],
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def polling_sid(served: Served) -> str:
    opened = httpx.get(f"{served.url}/socket.io/?EIO=4&transport=polling", timeout=10).text
    return str(json.loads(opened[opened.index("{") :])["sid"])


@pytest.mark.parametrize(
    "path", ["/api/v1/chat/messages/send", "/api/v1/chat/conversations/create", "polling"]
)
def test_a_declared_oversized_body_is_refused_before_it_is_sent(served: Served, path: str) -> None:
    if path == "polling":
        path = f"/socket.io/?EIO=4&transport=polling&sid={polling_sid(served)}"
    with served.connect() as connection:
        head = request_head("POST", path, **{"Content-Type": "application/json"})
        connection.sendall(head[:-2] + b"Content-Length: 104857600\r\n\r\n")
        assert status_of(connection, timeout=5) == 413


def test_an_oversized_polling_post_is_answered_and_the_session_lives_on(served: Served) -> None:
    """The probe's repro: a 200,000-byte polling POST was never answered."""
    sid = polling_sid(served)
    body = b"4" + b"x" * 199_999
    path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    started = time.monotonic()
    with served.connect() as connection:
        head = request_head("POST", path, **{"Content-Length": str(len(body))})
        connection.sendall(head)
        with contextlib.suppress(OSError):
            connection.sendall(body)
        assert status_of(connection, timeout=5) == 413
    assert time.monotonic() - started < 5


def test_a_streamed_body_is_cut_at_its_limit_and_memory_stays_flat(served: Served) -> None:
    """The probe's repro: 100 MB (chunked, no token) to a JSON route took RSS 150 -> 438 MB."""
    sent = 0
    with served.peak_rss() as rss, served.connect() as connection:
        head = request_head(
            "POST", "/api/v1/chat/messages/send", **{"Transfer-Encoding": "chunked"}
        )
        connection.sendall(head)
        answer: list[int | None] = []
        reader = threading.Thread(target=lambda: answer.append(status_of(connection, 60)))
        reader.start()
        chunk = b"%x\r\n%s\r\n" % (MB, b"x" * MB)
        with contextlib.suppress(OSError):
            while sent < 100 * MB and reader.is_alive():
                connection.sendall(chunk)
                sent += MB
            connection.sendall(b"0\r\n\r\n")
        reader.join(60)
    print(f"streamed body: sent {sent / MB:.0f} MB, server RSS {rss}, answer {answer}")
    assert answer == [413]
    assert rss["peak"] - rss["before"] < 40, rss


def test_each_route_has_the_limit_of_its_purpose(served: Served) -> None:
    """200 KB is too much for a JSON route, but not for an upload or a recording chunk: those
    go on to authentication (401), before which nothing of the body is kept."""
    body = b"x" * 200_000
    room, recording = (
        "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        "1" * 8 + "-1111-1111-1111-" + "1" * 12,
    )
    chunk = f"/api/v1/video-call/rooms/{room}/recordings/{recording}/chunks/0"
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.post("/api/v1/chat/messages/send", content=body).status_code == 413
        assert (
            http.put(f"/api/v1/chat/conversations/{room}/status", content=body).status_code == 413
        )
        assert http.put(chunk, content=body).status_code == 401
        upload = http.post("/api/v1/chat/messages/upload", files={"file": ("a.pdf", body)})
        assert upload.status_code == 401
        small = http.post("/api/v1/chat/messages/send", json={"content": "xin chào"})
        assert small.status_code == 401


def test_a_body_that_stops_arriving_is_refused_in_bounded_time(served: Served) -> None:
    with served.connect() as connection:
        connection.sendall(
            request_head("POST", "/api/v1/chat/messages/send", **{"Content-Length": "100"})
        )
        connection.sendall(b'{"content": ')
        started = time.monotonic()
        assert status_of(connection, timeout=10) == 408
        assert time.monotonic() - started < 6


def test_shutdown_is_bounded_while_a_request_hangs(tmp_path: Path) -> None:
    """The probe's repro: SIGTERM waited more than 30 s on 'Waiting for connections to close'."""
    with (
        medtalk_serve(
            tmp_path,
            MEDTALK_SHUTDOWN_TIMEOUT_SECONDS="2",
            MEDTALK_REQUEST_BODY_IDLE_SECONDS="120",
        ) as server,
        server.connect() as connection,
    ):
        connection.sendall(
            request_head("POST", "/api/v1/chat/messages/send", **{"Content-Length": "100"})
        )
        connection.sendall(b"{")
        time.sleep(0.5)  # the request is in the server's hands
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail("medtalk serve still runs 15 s after SIGTERM")
        print(f"shutdown took {time.monotonic() - started:.1f} s")
        assert time.monotonic() - started < 10


TEST_SECRET = "test-only-jwt-secret-for-the-served-process-0123456789"


def bearer(user_id: uuid.UUID, role: str) -> dict[str, str]:
    claims = {
        "sub": str(user_id),
        "name": role.title(),
        "role": role,
        "exp": int(time.time()) + 600,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, TEST_SECRET, algorithm='HS256')}"}


def png(width: int, height: int) -> bytes:
    """A flat-colour PNG: about 100 KB on the wire, `width * height * 3` bytes decoded."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG", optimize=True)
    return out.getvalue()


def concurrent_uploads(
    served: Served, image: bytes, count: int
) -> tuple[list[int], dict[str, float]]:
    """One patient uploads `count` copies of `image` at once; their statuses and server RSS."""
    patient, doctor = bearer(uuid.uuid4(), "PATIENT"), bearer(uuid.uuid4(), "DOCTOR")
    with httpx.Client(base_url=served.url, timeout=120) as http:
        assert http.get("/api/v1/chat/conversations", headers=doctor).status_code == 200
        doctor_id = jwt.decode(doctor["Authorization"][7:], options={"verify_signature": False})
        created = http.post(
            "/api/v1/chat/conversations/create",
            json={"doctorId": doctor_id["sub"]},
            headers=patient,
        )
        assert created.status_code == 201, created.text
        form = {"conversationId": created.json()["conversationId"], "fileType": "IMAGE"}

        def upload(_: int) -> int:
            files = {"file": ("bomb.png", image, "image/png")}
            return http.post(
                "/api/v1/chat/messages/upload", data=form, files=files, headers=patient
            ).status_code

        with served.peak_rss() as rss, ThreadPoolExecutor(count) as pool:
            statuses = list(pool.map(upload, range(count)))
        time.sleep(0.5)  # memory handed back after the last decode
        rss["after"] = served.rss_mb()
    return statuses, rss


@pytest.fixture(scope="module")
def image_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with medtalk_serve(tmp_path_factory.mktemp("images"), MEDTALK_JWT_SECRET=TEST_SECRET) as server:
        yield server


def test_pixel_bombs_over_the_limit_are_refused_without_decoding(image_server: Served) -> None:
    """The probe's repro: six concurrent 6000x6000 PNGs took RSS 151 -> 2,335 MB (2,216 held)."""
    statuses, rss = concurrent_uploads(image_server, png(6000, 6000), 6)
    print(f"6 x 6000x6000 PNG: statuses {statuses}, server RSS {rss}")
    assert statuses == [422] * 6
    assert rss["peak"] - rss["before"] < 150, rss


def test_allowed_large_images_decode_within_a_memory_bound(image_server: Served) -> None:
    """Six concurrent images just under the pixel limit: decodes wait their turn, and the
    memory is given back afterwards."""
    side = 4800  # 23 MP, under the 24 MP default
    statuses, rss = concurrent_uploads(image_server, png(side, side), 6)
    print(f"6 x {side}x{side} PNG: statuses {statuses}, server RSS {rss}")
    assert statuses == [201] * 6
    assert rss["peak"] - rss["before"] < 600, rss
    assert rss["after"] - rss["before"] < 150, rss
