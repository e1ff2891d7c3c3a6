"""Everything a request may need, built once per process in app.py."""

from __future__ import annotations

from dataclasses import dataclass

from medtalk.chat.service import ChatService
from medtalk.core.auth import TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.db.engine import Database
from medtalk.files.service import FileService
from medtalk.realtime.presence import Presence
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
    presence: Presence | None = None  # scale-out: who is online
