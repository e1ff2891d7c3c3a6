"""The file store interface: put a stream under a generated key, read it back, delete it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator


class FileStorage(ABC):
    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> str | None:
        """Store the stream under `key`; returns the encryption key id, if we encrypt."""

    @abstractmethod
    def read(self, key: str, key_id: str | None) -> AsyncIterator[bytes]:
        """The stored bytes, decrypted, as a stream; FileNotFoundError if there is none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""

    async def download_url(
        self, key: str, ttl_seconds: int, *, content_type: str, disposition: str
    ) -> str | None:
        """A short-lived URL that serves the object directly, where the backend has one."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections (called once when the app stops)."""
