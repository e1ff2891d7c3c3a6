"""Download links for recordings: the room's stable URL, and signed links (core/links.py)."""

from __future__ import annotations

import uuid

from medtalk.core.links import SignedLinks


def file_path(room_id: uuid.UUID, recording_id: uuid.UUID) -> str:
    return f"/api/v1/video-call/rooms/{room_id}/recordings/{recording_id}/file"


class RecordingLinks:
    def __init__(self, secret: str, ttl_seconds: int, public_url: str) -> None:
        self._links = SignedLinks(secret, ttl_seconds, public_url)

    def stable(self, room_id: uuid.UUID, recording_id: uuid.UUID) -> str:
        """The room's `recording_url`: opens with a participant's bearer token."""
        return self._links.url(file_path(room_id, recording_id))

    def signed(self, room_id: uuid.UUID, recording_id: uuid.UUID) -> str:
        """A short-lived link that works without a bearer header (a <video> element)."""
        path = file_path(room_id, recording_id)
        return self._links.signed(path, f"recording:{path}")

    def valid(self, room_id: uuid.UUID, recording_id: uuid.UUID, expires: int, sig: str) -> bool:
        return self._links.valid(f"recording:{file_path(room_id, recording_id)}", expires, sig)
