"""ICE servers for WebRTC: TURN REST API credentials as coturn's use-auth-secret checks them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any


def turn_credentials(secret: str, user_id: str, expires_at: datetime) -> tuple[str, str]:
    """(username, credential): "<expiry unix>:<user id>" and base64(HMAC-SHA1(secret, username))."""
    if expires_at.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware")
    username = f"{int(expires_at.timestamp())}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_configuration(
    stun_urls: list[str],
    turn_urls: list[str],
    secret: str | None,
    user_id: str,
    expires_at: datetime,
) -> dict[str, Any]:
    """{"stunServers": [...], "turnServers": [...]}; no TURN without both a secret and URLs."""
    turn: list[dict[str, str]] = []
    if secret and turn_urls:
        username, credential = turn_credentials(secret, user_id, expires_at)
        turn = [{"urls": u, "username": username, "credential": credential} for u in turn_urls]
    return {"stunServers": list(stun_urls), "turnServers": turn}
