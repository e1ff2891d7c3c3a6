"""Download links for chat files and their thumbnails: signed, short-lived (core/links.py)."""

from __future__ import annotations

import uuid

from medtalk.core.links import SignedLinks


class FileLinks:
    def __init__(self, secret: str, ttl_seconds: int, public_url: str) -> None:
        self._links = SignedLinks(secret, ttl_seconds, public_url)

    def link(self, file_id: uuid.UUID) -> str:
        """A short-lived signed download link (works without a bearer header, e.g. <img>)."""
        return self._links.signed(f"/api/v1/chat/files/{file_id}", str(file_id))

    def thumbnail_link(self, file_id: uuid.UUID) -> str:
        subject = f"{file_id}/thumbnail"
        return self._links.signed(f"/api/v1/chat/files/{subject}", subject)

    def valid(
        self, file_id: uuid.UUID, expires: int, signature: str, *, thumbnail: bool = False
    ) -> bool:
        subject = f"{file_id}/thumbnail" if thumbnail else str(file_id)
        return self._links.valid(subject, expires, signature)
