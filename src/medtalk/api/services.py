"""Everything a request may need, built once per process in app.py."""

from __future__ import annotations

from dataclasses import dataclass

from medtalk.calls.service import CallService
from medtalk.chat.service import ChatService
from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.db.engine import Database
from medtalk.files.service import FileService
from medtalk.recordings.assembler import RecordingAssembler
from medtalk.recordings.service import RecordingService
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
    # video calls (calls/)
    calls: CallService | None = None
    # call recording (issue 10)
    recordings: RecordingService | None = None
    recording_jobs: RecordingAssembler | None = None
