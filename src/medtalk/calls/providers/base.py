"""The video provider interface: its settings, the token request, and the abstract provider."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

RoomRole = Literal["PATIENT", "DOCTOR", "ADMIN"]


@dataclass(frozen=True)
class ProviderConfig:
    """Settings of every provider; each provider reads only its own fields."""

    public_url: str = ""  # empty: our own links are relative paths (/call/...)
    jitsi_domain: str = ""
    jitsi_app_id: str = ""
    jitsi_app_secret: str = ""
    jitsi_audience: str = "jitsi"
    agora_app_id: str = ""
    agora_app_certificate: str = ""
    token_secret: str = ""

    @property
    def base_url(self) -> str:
        """Prefix of our own links: the public URL, or "" for paths relative to this server."""
        return self.public_url.rstrip("/")


@dataclass(frozen=True)
class RoomTokenRequest:
    """Who wants into which room, and for how long."""

    room_id: uuid.UUID
    room_name: str
    user_id: uuid.UUID
    user_name: str
    role: RoomRole
    is_host: bool
    expires_at: datetime
    not_before: datetime

    def __post_init__(self) -> None:
        # A naive datetime's timestamp() silently means local time: refuse it.
        if self.expires_at.utcoffset() is None or self.not_before.utcoffset() is None:
            raise ValueError("expires_at and not_before must be timezone-aware")
        if self.expires_at <= self.not_before:
            raise ValueError("expires_at must be after not_before")

    @property
    def exp(self) -> int:
        return int(self.expires_at.timestamp())

    @property
    def nbf(self) -> int:
        return int(self.not_before.timestamp())


class VideoProvider(abc.ABC):
    """One way of carrying a call: issues join tokens and builds join links."""

    name: ClassVar[str]

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def issue_token(self, req: RoomTokenRequest) -> str:
        """A token that lets req.user_id into req.room_id until req.expires_at."""

    @abc.abstractmethod
    def join_url(self, room_id: uuid.UUID, room_name: str, token: str | None) -> str:
        """Where a client goes to join the room (with the token, when given)."""


def require(config: ProviderConfig, provider: str, *fields: str) -> None:
    """Fail at startup, not at the first call, when a provider's settings are missing."""
    missing = [f for f in fields if not getattr(config, f)]
    if missing:
        raise ValueError(f"video provider {provider!r} needs settings: {', '.join(missing)}")
