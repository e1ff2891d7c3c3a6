"""The blind index's hashing: per-key, per-conversation, truncated HMAC-SHA256 of a word.

term = first 8 bytes of HMAC(search key, conversation id || word), as a signed 64-bit integer.
The search key is derived from an encryption key of the ring, so rotating keys rotates it. The
conversation inside the hash means equal words in two conversations give unrelated terms.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from functools import lru_cache

from medtalk.core.crypto import KeyRing

BLOCK = 64  # messages (by seq) per row: a row's `bits` marks which of them hold the word
_LABEL = b"medtalk/search-index/v1"


@lru_cache(maxsize=32)
def _search_key(key: bytes) -> bytes:
    return hmac.new(key, _LABEL, hashlib.sha256).digest()


def search_key(keys: KeyRing, key_id: str) -> bytes:
    return _search_key(keys.keys[key_id])


def term(key: bytes, conversation_id: uuid.UUID, word: str) -> int:
    digest = hmac.new(key, conversation_id.bytes + word.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def block_of(seq: int) -> tuple[int, int]:
    """(block, bit mask as a signed 64-bit integer) of a message seq."""
    block, offset = divmod(seq, BLOCK)
    return block, int.from_bytes((1 << offset).to_bytes(8, "big"), "big", signed=True)


def seqs_of(block: int, bits: int) -> list[int]:
    """The seqs whose bits are set, lowest first (a loop per set bit, not per bit)."""
    unsigned = bits & ((1 << BLOCK) - 1)
    found = []
    while unsigned:
        lowest = unsigned & -unsigned
        found.append(block * BLOCK + lowest.bit_length() - 1)
        unsigned ^= lowest
    return found
