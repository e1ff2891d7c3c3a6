"""AES-256-GCM at rest: a key ring (id -> key, newest used for writes) and sealed blobs/streams."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
STREAM_CHUNK = 64 * 1024
# One sealed chunk on disk: nonce, ciphertext of STREAM_CHUNK bytes, GCM tag.
FRAME_BYTES = NONCE_BYTES + STREAM_CHUNK + 16


class DecryptionError(Exception):
    """Ciphertext was tampered with, truncated, or sealed with a key we do not hold."""


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys by id; `current_id` seals new data, every key opens old data."""

    keys: dict[str, bytes]
    current_id: str

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Parse 'id:base64key,id:base64key' (newest last)."""
        keys: dict[str, bytes] = {}
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            key_id, _, encoded = entry.partition(":")
            key = base64.b64decode(encoded)
            if not key_id or len(key) != 32:
                raise ValueError(f"encryption key {key_id!r} must be 32 bytes of base64")
            keys[key_id] = key
        if not keys:
            raise ValueError("the key ring is empty")
        return cls(keys=keys, current_id=list(keys)[-1])

    @classmethod
    def load_or_create_dev(cls, data_dir: Path) -> KeyRing:
        """Dev only: a key generated once under the data dir, so restarts can read old rows."""
        path = data_dir / "dev-encryption-key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text("dev1:" + base64.b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        return cls.parse(path.read_text().strip())

    def _aead(self, key_id: str) -> AESGCM:
        try:
            return AESGCM(self.keys[key_id])
        except KeyError:
            raise DecryptionError(f"unknown key id {key_id!r}") from None

    def seal(self, plaintext: bytes, associated: bytes = b"") -> tuple[str, bytes]:
        """Encrypt with the current key; returns (key id, nonce + ciphertext + tag)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead(self.current_id).encrypt(nonce, plaintext, associated)
        return self.current_id, nonce + sealed

    def open(self, key_id: str, blob: bytes, associated: bytes = b"") -> bytes:
        try:
            return self._aead(key_id).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError):
            raise DecryptionError("ciphertext failed authentication") from None

    def seal_text(self, text: str, associated: str) -> tuple[str, str]:
        key_id, blob = self.seal(text.encode(), associated.encode())
        return key_id, base64.b64encode(blob).decode()

    def open_text(self, key_id: str, sealed: str, associated: str) -> str:
        return self.open(key_id, base64.b64decode(sealed), associated.encode()).decode()

    # Streams: each chunk sealed on its own with the chunk index and a last-chunk flag in the
    # associated data, so chunks cannot be reordered, dropped or the stream truncated unnoticed.

    async def seal_stream(
        self, chunks: AsyncIterator[bytes], associated: bytes
    ) -> AsyncIterator[bytes]:
        aead = self._aead(self.current_id)
        index = 0
        pending: bytes | None = None
        async for chunk in _rechunk(chunks):
            if pending is not None:
                yield _seal_chunk(aead, pending, associated, index, last=False)
                index += 1
            pending = chunk
        yield _seal_chunk(aead, pending or b"", associated, index, last=True)

    def open_stream(
        self, key_id: str, sealed: Iterator[bytes], associated: bytes
    ) -> Iterator[bytes]:
        aead = self._aead(key_id)
        frame = FRAME_BYTES
        buffer = b""
        index = 0
        for piece in sealed:
            buffer += piece
            while len(buffer) > frame:
                yield _open_chunk(aead, buffer[:frame], associated, index, last=False)
                buffer = buffer[frame:]
                index += 1
        yield _open_chunk(aead, buffer, associated, index, last=True)

    def open_chunk(
        self, key_id: str, frame: bytes, associated: bytes, index: int, *, last: bool
    ) -> bytes:
        """One frame of a sealed stream, opened on its own (byte ranges: only what is asked)."""
        return _open_chunk(self._aead(key_id), frame, associated, index, last)


def sealed_size(plain_size: int) -> int:
    """Bytes on disk for a stream of `plain_size` plaintext bytes."""
    chunks = max(1, -(-plain_size // STREAM_CHUNK))
    return plain_size + chunks * (NONCE_BYTES + 16)


async def _rechunk(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    buffer = b""
    async for piece in chunks:
        buffer += piece
        while len(buffer) >= STREAM_CHUNK:
            yield buffer[:STREAM_CHUNK]
            buffer = buffer[STREAM_CHUNK:]
    if buffer:
        yield buffer


def _chunk_aad(associated: bytes, index: int, last: bool) -> bytes:
    return associated + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def _seal_chunk(aead: AESGCM, chunk: bytes, associated: bytes, index: int, last: bool) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, chunk, _chunk_aad(associated, index, last))


def _open_chunk(aead: AESGCM, frame: bytes, associated: bytes, index: int, last: bool) -> bytes:
    try:
        aad = _chunk_aad(associated, index, last)
        return aead.decrypt(frame[:NONCE_BYTES], frame[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise DecryptionError("file chunk failed authentication") from None


def sign(secret: str, message: str) -> str:
    """URL-safe HMAC-SHA256 signature of `message`."""
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature_matches(secret: str, message: str, signature: str) -> bool:
    # As bytes: compare_digest refuses non-ASCII str, and a link's `sig` is whatever was sent.
    return hmac.compare_digest(sign(secret, message).encode(), signature.encode())
