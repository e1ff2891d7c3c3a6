"""One storage suite, run against each backend: local disk (AES-256-GCM) and S3.

The S3 leg talks to moto's standalone server on loopback (`moto_server`, a protocol-level S3
emulator; MinIO is not installable here). The backend code is plain S3: MinIO or AWS work by
configuration (endpoint, region, credentials).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from medtalk.core.crypto import KeyRing
from medtalk.files.storage import FileStorage, LocalStorage, create_storage
from medtalk.files.storage.s3 import S3Storage
from medtalk.settings import Settings
from world import S3Emulator

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileStorage]:
    keys = KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    overrides: dict[str, object] = {}
    if request.param == "s3":
        emulator: S3Emulator = request.getfixturevalue("s3")
        overrides = emulator.settings(emulator.new_bucket())
    backend = create_storage(Settings(data_dir=tmp_path, **overrides), keys)
    assert isinstance(backend, S3Storage if request.param == "s3" else LocalStorage)
    yield backend
    await backend.close()


async def stream(data: bytes, piece: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def read_all(storage: FileStorage, key: str, key_id: str | None) -> bytes:
    return b"".join([piece async for piece in storage.read(key, key_id)])


def new_key() -> str:
    return secrets.token_hex(20)


async def test_small_file_round_trips(storage: FileStorage) -> None:
    key, data = new_key(), b"%PDF-1.4 lab results"
    key_id = await storage.put(key, stream(data))
    assert await read_all(storage, key, key_id) == data


async def test_empty_stream_round_trips(storage: FileStorage) -> None:
    key = new_key()
    key_id = await storage.put(key, stream(b""))
    assert await read_all(storage, key, key_id) == b""


async def test_large_file_goes_up_in_parts_and_streams_back(storage: FileStorage) -> None:
    # 12 MiB over 5 MiB S3 parts: three parts, the last one short.
    key, data = new_key(), os.urandom(12 * MiB + 123)
    key_id = await storage.put(key, stream(data, 1 * MiB))
    pieces = [piece async for piece in storage.read(key, key_id)]
    assert len(pieces) > 1, "the download streams in pieces"
    assert b"".join(pieces) == data


async def test_failed_upload_leaves_nothing_behind(storage: FileStorage) -> None:
    key = new_key()

    async def breaks_midway() -> AsyncIterator[bytes]:
        yield os.urandom(6 * MiB)
        raise ValueError("client went away")

    with pytest.raises(ValueError):
        await storage.put(key, breaks_midway())
    with pytest.raises(FileNotFoundError):
        await read_all(storage, key, None)


async def test_deleted_and_unknown_objects_are_missing(storage: FileStorage) -> None:
    key = new_key()
    key_id = await storage.put(key, stream(b"voice note"))
    await storage.delete(key)
    await storage.delete(key)  # twice is fine
    with pytest.raises(FileNotFoundError):
        await read_all(storage, key, key_id)
    with pytest.raises(FileNotFoundError):
        await read_all(storage, new_key(), key_id)


async def test_objects_are_encrypted_at_rest(
    storage: FileStorage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    key, marker = new_key(), b"PATIENT-NGUYEN-THI-C-" * 50
    key_id = await storage.put(key, stream(marker))
    if isinstance(storage, LocalStorage):
        assert key_id is not None
        on_disk = b"".join(p.read_bytes() for p in tmp_path.rglob(key) if p.is_file())  # noqa: ASYNC240
        assert on_disk and marker[:21] not in on_disk
    else:
        assert isinstance(storage, S3Storage)
        head = await storage.head(key)
        assert head["ServerSideEncryption"] == "AES256"


async def test_presigned_urls_serve_s3_objects(storage: FileStorage) -> None:
    """moto does not verify presigned signatures, so this shows only that the URL is usable;
    refusing tampered or expired links is S3's (and our HMAC-checked redirect's) job."""
    key, data = new_key(), b"\x89PNG thumbnail bytes"
    await storage.put(key, stream(data))
    url = await storage.download_url(key, 60, content_type="image/png", disposition="inline")
    if isinstance(storage, LocalStorage):
        assert url is None  # local files are only served through medtalk's own endpoint
        return
    assert url is not None and "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    async with httpx.AsyncClient() as client:
        fetched = await client.get(url)
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["content-type"] == "image/png"


def test_storage_url_chooses_the_backend(tmp_path: Path) -> None:
    keys = KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    assert isinstance(create_storage(Settings(data_dir=tmp_path), keys), LocalStorage)
    local = create_storage(Settings(storage_url=f"file://{tmp_path}/x"), keys)
    assert isinstance(local, LocalStorage)
    s3 = create_storage(Settings(storage_url="s3://bucket/prefix"), keys)
    assert isinstance(s3, S3Storage)
    with pytest.raises(ValueError):
        create_storage(Settings(storage_url="ftp://x"), keys)
