"""Signed download links for recordings (HMAC over the path and expiry, like file links)."""

from __future__ import annotations

import time
import uuid

from medtalk.core.crypto import sign, signature_matches


def file_path(room_id: uuid.UUID, recording_id: uuid.UUID) -> str:
    return f"/api/v1/video-call/rooms/{room_id}/recordings/{recording_id}/file"


class RecordingLinks:
    def __init__(self, secret: str, ttl_seconds: int, public_url: str) -> None:
        self._secret = secret
        self._ttl = ttl_seconds
        self._public_url = public_url.rstrip("/")

    def stable(self, room_id: uuid.UUID, recording_id: uuid.UUID) -> str:
        """The room's `recording_url`: opens with a participant's bearer token."""
        return self._public_url + file_path(room_id, recording_id)

    def signed(self, room_id: uuid.UUID, recording_id: uuid.UUID) -> str:
        """A short-lived link that works without a bearer header (a <video> element)."""
        path = file_path(room_id, recording_id)
        expires = int(time.time()) + self._ttl
        signature = sign(self._secret, f"recording:{path}:{expires}")
        return f"{self._public_url}{path}?expires={expires}&sig={signature}"

    def valid(self, room_id: uuid.UUID, recording_id: uuid.UUID, expires: int, sig: str) -> bool:
        if expires < int(time.time()):
            return False
        path = file_path(room_id, recording_id)
        return signature_matches(self._secret, f"recording:{path}:{expires}", sig)
