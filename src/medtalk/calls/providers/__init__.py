"""Pluggable video providers: one small interface, one short module per backend."""

from __future__ import annotations

from medtalk.calls.providers.agora import AgoraProvider
from medtalk.calls.providers.base import ProviderConfig, RoomRole, RoomTokenRequest, VideoProvider
from medtalk.calls.providers.jitsi import JitsiProvider
from medtalk.calls.providers.p2p import P2PProvider, verify_room_token
from medtalk.calls.providers.turn import ice_configuration, turn_credentials

PROVIDERS: dict[str, type[VideoProvider]] = {
    P2PProvider.name: P2PProvider,
    JitsiProvider.name: JitsiProvider,
    AgoraProvider.name: AgoraProvider,
}


def create_video_provider(name: str, config: ProviderConfig) -> VideoProvider:
    """The provider called name ("p2p", "jitsi" or "agora"), checked against its settings."""
    provider = PROVIDERS.get(name.strip().lower())
    if provider is None:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"unknown video provider {name!r}; expected one of: {known}")
    return provider(config)


__all__ = [
    "PROVIDERS",
    "AgoraProvider",
    "JitsiProvider",
    "P2PProvider",
    "ProviderConfig",
    "RoomRole",
    "RoomTokenRequest",
    "VideoProvider",
    "create_video_provider",
    "ice_configuration",
    "turn_credentials",
    "verify_room_token",
]
