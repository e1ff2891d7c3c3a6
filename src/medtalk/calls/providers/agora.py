"""Agora RTC: AccessToken2 ("007") tokens, byte for byte as Agora's official builders make them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
import time
import uuid
import zlib

from medtalk.calls.providers.base import ProviderConfig, RoomTokenRequest, VideoProvider, require

VERSION = "007"
SERVICE_RTC = 1
PRIVILEGE_JOIN_CHANNEL = 1
PRIVILEGE_PUBLISH_AUDIO = 2
PRIVILEGE_PUBLISH_VIDEO = 3
PRIVILEGE_PUBLISH_DATA = 4

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
# Agora's documented channel-name alphabet; anything else fails only when the client joins.
_CHANNEL = re.compile(r"[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,63}")


def build_rtc_token(
    app_id: str,
    app_certificate: str,
    channel_name: str,
    uid_or_account: str,
    role_publisher: bool,
    token_expire_s: int,
    privilege_expire_s: int,
    issue_ts: int,
    salt: int,
) -> str:
    """An RTC token as RtcTokenBuilder2.build_token_with_user_account builds it.

    Expiries are seconds from issue_ts. An empty account is Agora's uid 0 (any uid may join).
    """
    if not _HEX32.fullmatch(app_id) or not _HEX32.fullmatch(app_certificate):
        raise ValueError("Agora app id and certificate must be 32 hex characters")
    privileges = [PRIVILEGE_JOIN_CHANNEL]
    if role_publisher:
        privileges += [PRIVILEGE_PUBLISH_AUDIO, PRIVILEGE_PUBLISH_VIDEO, PRIVILEGE_PUBLISH_DATA]
    service = _rtc_service(channel_name, uid_or_account, privileges, privilege_expire_s)
    info = (
        _string(app_id.encode())
        + _u32(issue_ts)
        + _u32(token_expire_s)
        + _u32(salt)
        + _u16(1)  # one service
        + service
    )
    signature = hmac.new(_signing_key(app_certificate, issue_ts, salt), info, hashlib.sha256)
    packed = _string(signature.digest()) + info
    return VERSION + base64.b64encode(zlib.compress(packed)).decode()


def _rtc_service(channel: str, account: str, privileges: list[int], expire: int) -> bytes:
    entries = b"".join(_u16(p) + _u32(expire) for p in sorted(privileges))
    return (
        _u16(SERVICE_RTC)
        + _u16(len(privileges))
        + entries
        + _string(channel.encode())
        + _string(account.encode())
    )


def _signing_key(app_certificate: str, issue_ts: int, salt: int) -> bytes:
    # The timestamp and salt are the HMAC keys and the certificate the message, as in Agora's code.
    key = hmac.new(_u32(issue_ts), app_certificate.encode(), hashlib.sha256).digest()
    return hmac.new(_u32(salt), key, hashlib.sha256).digest()


def _u16(value: int) -> bytes:
    return struct.pack("<H", value)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _string(data: bytes) -> bytes:
    return _u16(len(data)) + data


class AgoraProvider(VideoProvider):
    name = "agora"

    def __init__(self, config: ProviderConfig) -> None:
        require(config, self.name, "agora_app_id", "agora_app_certificate")
        super().__init__(config)

    def issue_token(self, req: RoomTokenRequest) -> str:
        if not _CHANNEL.fullmatch(req.room_name):
            raise ValueError("Agora channel names are 1-63 characters of Agora's alphabet")
        now = int(time.time())
        # AccessToken2 has no not-before; its expiries count from the issue time.
        ttl = req.exp - now
        if ttl <= 0:
            raise ValueError("token request has already expired")
        return build_rtc_token(
            self.config.agora_app_id,
            self.config.agora_app_certificate,
            channel_name=req.room_name,
            uid_or_account=str(req.user_id),
            role_publisher=True,  # both sides of a consultation send audio and video
            token_expire_s=ttl,
            privilege_expire_s=ttl,
            issue_ts=now,
            salt=secrets.randbelow(99_999_999) + 1,  # Agora's range: 1..99999999
        )

    def join_url(self, room_id: uuid.UUID, room_name: str, token: str | None) -> str:
        # Agora has no hosted join page: our own call page runs the Agora web SDK.
        return f"{self.config.base_url}/call/{room_id}?provider=agora"
