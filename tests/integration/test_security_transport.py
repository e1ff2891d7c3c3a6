"""Transport: secure headers on every response, HSTS over https, CORS and Socket.IO origins
from one allow-list, a WebSocket message limit, and `medtalk serve` speaking TLS itself."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from medtalk.app import allowed_origins
from medtalk.settings import Settings
from world import NAMESPACE, PRODUCTION_SECRETS, LiveServer, World, free_port, start_server

ALLOWED = "https://app.example.vn"


def assert_secure_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


async def test_every_kind_of_response_carries_secure_headers(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    ok = await patient.get("/api/v1/chat/conversations")
    refused = await world.http.get("/api/v1/chat/conversations")
    missing = await world.http.get("/no/such/path")
    polling = await world.http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    for response in (ok, refused, missing, polling):
        assert_secure_headers(response)
        assert "strict-transport-security" not in response.headers  # plain http: no HSTS
    assert ok.headers["content-security-policy"].startswith("default-src 'none'")
    docs = await world.http.get("/docs")
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert conversation


async def test_hsts_when_a_trusted_proxy_says_https(world: World) -> None:
    response = await world.http.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with an origin allow-list and a small WebSocket message limit."""
    data_dir = tmp_path_factory.mktemp("medtalk-strict")
    with start_server(
        data_dir, "", backend="sqlite", cors_origins=[ALLOWED], ws_max_message_bytes=16 * 1024
    ) as server:
        yield server


async def test_cors_allows_only_listed_origins(strict_server: LiveServer) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    async with httpx.AsyncClient(base_url=strict_server.base_url) as http:
        good = await http.options(
            "/api/v1/chat/messages/send", headers={"Origin": ALLOWED, **preflight}
        )
        evil = await http.options(
            "/api/v1/chat/messages/send", headers={"Origin": "https://evil.example", **preflight}
        )
        simple = await http.get("/healthz", headers={"Origin": "https://evil.example"})
    assert good.status_code == 200
    assert good.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-origin" not in evil.headers
    assert "access-control-allow-origin" not in simple.headers


async def connect(server: LiveServer, origin: str) -> socketio.AsyncClient:
    import uuid

    from medtalk.core.auth import Role

    client = socketio.AsyncClient(reconnection=False)
    token = server.token(uuid.uuid4(), "Bình", Role.PATIENT)
    await client.connect(
        server.base_url,
        namespaces=[NAMESPACE],
        auth={"token": f"Bearer {token}"},
        headers={"Origin": origin},
        transports=["websocket"],
        wait_timeout=3,
    )
    return client


async def test_socketio_uses_the_same_origin_list(strict_server: LiveServer) -> None:
    client = await connect(strict_server, ALLOWED)
    assert client.connected
    await client.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(strict_server, "https://evil.example")


async def test_an_oversized_websocket_message_closes_the_socket(strict_server: LiveServer) -> None:
    client = await connect(strict_server, ALLOWED)
    closed = asyncio.Event()
    client.on("disconnect", closed.set, namespace=NAMESPACE)
    try:
        await client.emit(
            "typing_start", {"conversationId": "x" * (64 * 1024)}, namespace=NAMESPACE
        )
        await asyncio.wait_for(closed.wait(), 5)
    finally:
        await client.disconnect()


def test_origins_in_production_default_to_same_origin_only() -> None:
    secrets = {k: v for k, v in PRODUCTION_SECRETS.items() if k != "mode"}
    assert allowed_origins(Settings(mode="production", **secrets)) is None
    assert allowed_origins(Settings(mode="dev")) == "*"
    assert allowed_origins(Settings(cors_origins=[ALLOWED])) == [ALLOWED]
    with pytest.raises(ValueError, match="AUDIT_SECRET"):
        Settings(mode="production", **(secrets | {"audit_secret": Settings().audit_secret}))


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_medtalk_serve_speaks_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    env = os.environ | {
        "MEDTALK_DATA_DIR": str(tmp_path / "data"),
        "MEDTALK_PORT": str(port),
        "MEDTALK_TLS_CERT_FILE": str(cert),
        "MEDTALK_TLS_KEY_FILE": str(key),
        "MEDTALK_LOG_LEVEL": "WARNING",
    }
    medtalk = Path(sys.executable).parent / "medtalk"
    process = subprocess.Popen([str(medtalk), "serve"], env=env, stderr=subprocess.PIPE)
    try:
        context = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=context)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)  # a subprocess: polled
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
    finally:
        process.terminate()
        process.wait(timeout=10)
