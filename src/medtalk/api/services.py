"""Everything a request may need, built once per process in app.py."""

from __future__ import annotations

from dataclasses import dataclass

from medtalk.audit import AuditTrail
from medtalk.calls.service import CallService
from medtalk.chat.service import ChatService
from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.db.engine import Database
from medtalk.files.service import FileService
from medtalk.files.storage import FileStorage
from medtalk.realtime.presence import Presence
from medtalk.recordings.assembler import RecordingAssembler
from medtalk.recordings.service import RecordingService
from medtalk.sessions import RevocationList
from medtalk.settings import Settings
from medtalk.users.service import UserDirectory


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    keys: KeyRing
    verifier: TokenVerifier
    users: UserDirectory
    chat: ChatService
    files: FileService
    audit: AuditTrail
    revocations: RevocationList
    storage: FileStorage
    # Set right after construction: the call service is built from the services above.
    calls: CallService | None = None
    presence: Presence | None = None  # scale-out: who is online
    # call recording (issue 10)
    recordings: RecordingService | None = None
    recording_jobs: RecordingAssembler | None = None
