"""Jitsi Meet with token authentication (Prosody mod_auth_token, shared-secret HS256)."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

import jwt

from medtalk.calls.providers.base import ProviderConfig, RoomTokenRequest, VideoProvider, require


class JitsiProvider(VideoProvider):
    name = "jitsi"

    def __init__(self, config: ProviderConfig) -> None:
        require(config, self.name, "jitsi_domain", "jitsi_app_id", "jitsi_app_secret")
        super().__init__(config)

    def issue_token(self, req: RoomTokenRequest) -> str:
        cfg = self.config
        claims: dict[str, Any] = {
            "aud": cfg.jitsi_audience,
            "iss": cfg.jitsi_app_id,  # Prosody's app_id
            "sub": cfg.jitsi_domain.lower(),  # Prosody compares sub with the lowercase domain
            "room": req.room_name,  # the bare room name, not the MUC address
            "exp": req.exp,
            "nbf": req.nbf,
            "iat": int(time.time()),
            "context": {"user": _user(req)},
        }
        return jwt.encode(claims, cfg.jitsi_app_secret, algorithm="HS256")

    def join_url(self, room_id: uuid.UUID, room_name: str, token: str | None) -> str:
        url = f"https://{self.config.jitsi_domain}/{quote(room_name, safe='')}"
        return f"{url}?jwt={token}" if token else url


def _user(req: RoomTokenRequest) -> dict[str, Any]:
    # Jitsi throws on non-string id/name, so both are strings. Only the host (the doctor)
    # moderates: a patient must not be able to mute or remove the doctor.
    return {"id": str(req.user_id), "name": req.user_name, "moderator": req.is_host}
