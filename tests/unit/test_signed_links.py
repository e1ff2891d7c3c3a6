"""core/links.py: the one signer of download links (chat files, thumbnails, recordings)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

from medtalk.core.crypto import sign
from medtalk.core.links import SignedLinks
from medtalk.recordings.links import RecordingLinks

SECRET = "test-only-link-secret"


def _query(link: str) -> tuple[str, int, str]:
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    return parts.path, int(query["expires"][0]), query["sig"][0]


def test_a_signed_link_opens_its_subject_until_it_expires() -> None:
    links = SignedLinks(SECRET, 60, "https://chat.example/")
    link = links.signed("/api/v1/chat/files/abc", "abc")
    path, expires, sig = _query(link)
    assert link.startswith("https://chat.example/api/v1/chat/files/abc?expires=")
    assert path == "/api/v1/chat/files/abc"
    assert links.valid("abc", expires, sig)
    assert not links.valid("abc", int(time.time()) - 1, sig)  # expired
    assert not links.valid("abc", expires + 1, sig)  # expiry tampered with
    assert not links.valid("abd", expires, sig)  # a stranger's subject
    assert not links.valid("abc", expires, sig[:-1] + ("A" if sig[-1] != "A" else "B"))
    assert not links.valid("abc", expires, "é" * len(sig))  # non-ASCII never raises


def test_link_formats_are_those_already_handed_out() -> None:
    """Links in clients' hands stay valid: the same message is signed as before."""
    file_id, room_id, recording_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    links = SignedLinks(SECRET, 60, "")
    _path, expires, sig = _query(links.signed(f"/api/v1/chat/files/{file_id}", str(file_id)))
    assert sig == sign(SECRET, f"{file_id}:{expires}")
    recordings = RecordingLinks(SECRET, 60, "")
    path, expires, sig = _query(recordings.signed(room_id, recording_id))
    assert path == f"/api/v1/video-call/rooms/{room_id}/recordings/{recording_id}/file"
    assert sig == sign(SECRET, f"recording:{path}:{expires}")
    assert recordings.valid(room_id, recording_id, expires, sig)
    assert not recordings.valid(room_id, uuid.uuid4(), expires, sig)
    assert recordings.stable(room_id, recording_id) == path
