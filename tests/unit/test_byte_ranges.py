"""Byte ranges: the Range header as a player sends it, and local storage opening only the
sealed 64 KiB chunks a range touches."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from medtalk.api.ranges import RangeNotSatisfiable, requested_range
from medtalk.core.crypto import FRAME_BYTES, STREAM_CHUNK, DecryptionError, KeyRing
from medtalk.files.storage import ByteRange, LocalStorage


@pytest.mark.parametrize(
    ("header", "size", "wanted"),
    [
        ("bytes=0-99", 1000, ByteRange(0, 99)),
        ("bytes=500-", 1000, ByteRange(500, 999)),
        ("bytes=-100", 1000, ByteRange(900, 999)),
        ("bytes=-5000", 1000, ByteRange(0, 999)),
        ("bytes=990-5000", 1000, ByteRange(990, 999)),
        (None, 1000, None),
        ("bytes=0-9,20-29", 1000, None),  # several ranges: the whole object
        ("items=0-9", 1000, None),
        ("bytes=9-0", 1000, None),  # malformed: ignored
        ("bytes=-", 1000, None),
        ("bytes=" + "9" * 40 + "-", 1000, None),  # absurdly long: ignored, not an error
    ],
)
def test_range_header(header: str | None, size: int, wanted: ByteRange | None) -> None:
    assert requested_range(header, size) == wanted


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=1000-", 1000), ("bytes=-0", 10), ("bytes=-1", 0)]
)
def test_unsatisfiable_range(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        requested_range(header, size)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _only_file(root: Path) -> Path:
    (path,) = [p for p in root.rglob("*") if p.is_file()]
    return path


async def _read(storage: LocalStorage, key: str, key_id: str | None, wanted: ByteRange) -> bytes:
    return b"".join([piece async for piece in storage.read_range(key, key_id, wanted)])


@pytest.mark.parametrize("size", [10, STREAM_CHUNK, 3 * STREAM_CHUNK + 77])
async def test_local_ranges_match_the_plaintext(tmp_path: Path, size: int) -> None:
    keys = KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    storage = LocalStorage(tmp_path, keys)
    data = os.urandom(size)
    key_id = await storage.put("ab" * 20, _once(data))
    edges = {0, 1, size // 2, size - 1, STREAM_CHUNK - 1, STREAM_CHUNK, 2 * STREAM_CHUNK + 3}
    points = sorted(point for point in edges if point < size)
    for start in points:
        for end in points:
            if end >= start:
                got = await _read(storage, "ab" * 20, key_id, ByteRange(start, end))
                assert got == data[start : end + 1], (start, end)


async def test_a_range_opens_only_its_own_chunks(tmp_path: Path) -> None:
    """A damaged first chunk does not stop a seek into the third; reading the first fails."""
    keys = KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    storage = LocalStorage(tmp_path, keys)
    data = os.urandom(3 * STREAM_CHUNK + 500)
    key = "cd" * 20
    key_id = await storage.put(key, _once(data))
    path = _only_file(tmp_path)
    sealed = bytearray(path.read_bytes())
    assert len(sealed) > 3 * FRAME_BYTES
    sealed[100] ^= 0xFF  # inside chunk 0's ciphertext
    path.write_bytes(bytes(sealed))
    third = ByteRange(2 * STREAM_CHUNK + 10, 3 * STREAM_CHUNK + 20)
    assert await _read(storage, key, key_id, third) == data[third.start : third.end + 1]
    with pytest.raises(DecryptionError):
        await _read(storage, key, key_id, ByteRange(0, 10))


async def test_a_truncated_file_fails_at_its_new_end(tmp_path: Path) -> None:
    """Cutting whole chunks off the end is noticed: the new last chunk was not sealed as last."""
    keys = KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())
    storage = LocalStorage(tmp_path, keys)
    data = os.urandom(3 * STREAM_CHUNK + 500)
    key = "ef" * 20
    key_id = await storage.put(key, _once(data))
    path = _only_file(tmp_path)
    path.write_bytes(path.read_bytes()[: 2 * FRAME_BYTES])
    with pytest.raises(DecryptionError):
        await _read(storage, key, key_id, ByteRange(STREAM_CHUNK, STREAM_CHUNK + 9))
