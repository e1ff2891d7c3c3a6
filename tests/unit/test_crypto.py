"""AES-256-GCM key ring: sealed text and streams, rotation, tamper detection."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator

import pytest

from medtalk.core.crypto import DecryptionError, KeyRing, sealed_size


def ring(*ids: str) -> KeyRing:
    return KeyRing.parse(",".join(f"{i}:{base64.b64encode(os.urandom(32)).decode()}" for i in ids))


def test_text_round_trip_and_no_plaintext() -> None:
    keys = ring("k1")
    key_id, sealed = keys.seal_text("Tôi bị đau đầu", associated="msg-1")
    assert key_id == "k1" and "đau" not in sealed
    assert keys.open_text(key_id, sealed, associated="msg-1") == "Tôi bị đau đầu"


def test_rotation_keeps_old_rows_readable() -> None:
    old = ring("k1")
    key_id, sealed = old.seal_text("cũ", associated="m")
    new = KeyRing.parse(
        f"k1:{base64.b64encode(old.keys['k1']).decode()},k2:{base64.b64encode(os.urandom(32)).decode()}"
    )
    assert new.current_id == "k2"
    assert new.open_text(key_id, sealed, associated="m") == "cũ"
    assert new.seal_text("mới", associated="m")[0] == "k2"


def test_tampering_or_moving_ciphertext_is_rejected() -> None:
    keys = ring("k1")
    key_id, sealed = keys.seal_text("bí mật", associated="msg-1")
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 1
    with pytest.raises(DecryptionError):
        keys.open_text(key_id, base64.b64encode(bytes(raw)).decode(), associated="msg-1")
    with pytest.raises(DecryptionError):  # same ciphertext pasted onto another message
        keys.open_text(key_id, sealed, associated="msg-2")
    with pytest.raises(DecryptionError):
        keys.open_text("unknown", sealed, associated="msg-1")


def test_bad_key_ring_is_refused() -> None:
    with pytest.raises(ValueError):
        KeyRing.parse("k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError):
        KeyRing.parse("")


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("length", [0, 1, 65_535, 65_536, 65_537, 300_000])
async def test_stream_round_trip(length: int) -> None:
    keys = ring("k1")
    data = os.urandom(length)
    sealed = b"".join([piece async for piece in keys.seal_stream(_chunks(data, 10_000), b"obj")])
    assert len(sealed) == sealed_size(length)
    opened = b"".join(keys.open_stream("k1", iter([sealed[:7], sealed[7:]]), b"obj"))
    assert opened == data


async def test_truncated_stream_is_rejected() -> None:
    keys = ring("k1")
    data = os.urandom(200_000)
    sealed = b"".join([piece async for piece in keys.seal_stream(_chunks(data, 65_536), b"obj")])
    frame = 12 + 65_536 + 16
    with pytest.raises(DecryptionError):  # drop the last chunk: the new last one is not flagged
        b"".join(keys.open_stream("k1", iter([sealed[: 2 * frame]]), b"obj"))
    with pytest.raises(DecryptionError):  # another object's name
        b"".join(keys.open_stream("k1", iter([sealed]), b"other"))


def test_signature_check_refuses_garbage_instead_of_failing() -> None:
    """A link's `sig` comes from the client: non-ASCII must be a plain mismatch, not a 500."""
    from medtalk.core.crypto import sign, signature_matches

    good = sign("secret", "file:123")
    assert signature_matches("secret", "file:123", good)
    assert not signature_matches("secret", "file:123", "ünïcödé")
    assert not signature_matches("secret", "file:123", good[:-1])
