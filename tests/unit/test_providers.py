"""Video providers: Agora test vectors, Jitsi and p2p JWTs, TURN credentials, the factory."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from medtalk.calls.providers import (
    AgoraProvider,
    JitsiProvider,
    P2PProvider,
    ProviderConfig,
    RoomTokenRequest,
    create_video_provider,
    ice_configuration,
    turn_credentials,
    verify_room_token,
)
from medtalk.calls.providers.agora import build_rtc_token

# Agora's fixtures, from AgoraIO/Tools DynamicKey/AgoraDynamicKey/python3/test/AccessToken2Test.py
# (setUp: issue_ts=1111111, salt=1, expire=600) and, for the publisher token, the Python-built
# token in .../go/src/accesstoken2/accesstoken_test.go
# (Test_AssessToken_Parse_TokenRtc_Rtm_MultiService_FromPython).
AGORA_APP_ID = "970CA35de60c44645bbae8a215061b33"
AGORA_CERT = "5CFd2fd1755d40ecb72977518be15d3b"
AGORA_CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
AGORA_ACCOUNT = "2882341273"
# AccessToken2Test.test_service_rtc_account (same bytes as test_service_rtc with uid 2882341273)
AGORA_JOIN_TOKEN = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcw"
    "Mk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"
)
# AccessToken2Test.test_service_rtc_uid_0
AGORA_UID0_TOKEN = (
    "007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcw"
    "Mk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo="
)
# RTC (join + publish audio/video/data, uid 2882341273) followed by RTM (login, "test_user").
AGORA_RTC_RTM_TOKEN = (
    "007eJxTYOAQsrQ5s3TfH+1tvy8zZZ46EpCc0V43JXdGd2jS8porKo4KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGS"
    "cbG7l8EGCKYGBgYGRgYmIAkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MT"
    "QyNzY5BZEJM4GUpSi0viS4tTiwAipyp4"
)

SECRET = "test-room-secret-0123456789abcdef0123456789"
JITSI_SECRET = "test-jitsi-secret-0123456789abcdef0123456789"
CONFIG = ProviderConfig(
    public_url="http://localhost:8089/",
    jitsi_domain="Meet.Example.org",
    jitsi_app_id="medtalk",
    jitsi_app_secret=JITSI_SECRET,
    agora_app_id=AGORA_APP_ID,
    agora_app_certificate=AGORA_CERT,
    token_secret=SECRET,
)
ROOM_ID = uuid.UUID("0b6f3c1e-8a51-4a8e-9d55-0e2f1c7a9b10")
DOCTOR_ID = uuid.UUID("5d1c2b3a-4f5e-4a6b-8c7d-9e0f1a2b3c4d")
PATIENT_ID = uuid.UUID("9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d")


def _request(*, host: bool = True, ttl: timedelta = timedelta(hours=1)) -> RoomTokenRequest:
    now = datetime.now(UTC)
    return RoomTokenRequest(
        room_id=ROOM_ID,
        room_name="consult-0b6f3c1e",
        user_id=DOCTOR_ID if host else PATIENT_ID,
        user_name="Dr. Ada" if host else "Pat Doe",
        role="DOCTOR" if host else "PATIENT",
        is_host=host,
        expires_at=now + ttl,
        not_before=now + ttl - timedelta(hours=2),
    )


def _agora(account: str, publisher: bool) -> str:
    return build_rtc_token(
        AGORA_APP_ID, AGORA_CERT, AGORA_CHANNEL, account, publisher, 600, 600, 1111111, 1
    )


def _unpack_agora(token: str) -> bytes:
    assert token.startswith("007")
    return zlib.decompress(base64.b64decode(token[3:]))


# --- Agora -----------------------------------------------------------------------------


def test_agora_join_token_equals_official_vector() -> None:
    assert _agora(AGORA_ACCOUNT, publisher=False) == AGORA_JOIN_TOKEN


def test_agora_uid_0_token_equals_official_vector() -> None:
    assert _agora("", publisher=False) == AGORA_UID0_TOKEN


def test_agora_publisher_service_matches_official_token() -> None:
    # Agora publishes no single-service publisher vector; its RTC+RTM one must carry our
    # header (app id, ts, expire, salt) and then our exact RTC service bytes.
    ours = _unpack_agora(_agora(AGORA_ACCOUNT, publisher=True))
    theirs = _unpack_agora(AGORA_RTC_RTM_TOKEN)
    header = slice(34, 34 + 46)  # after the packed 32-byte signature, up to the service count
    assert ours[header] == theirs[header]
    assert (ours[80:82], theirs[80:82]) == (b"\x01\x00", b"\x02\x00")
    assert theirs[82:].startswith(ours[82:])


def test_agora_rejects_malformed_credentials() -> None:
    with pytest.raises(ValueError, match="32 hex"):
        build_rtc_token("abc", AGORA_CERT, AGORA_CHANNEL, "", False, 600, 600, 1111111, 1)


def test_agora_provider_token_carries_channel_and_account() -> None:
    provider = AgoraProvider(CONFIG)
    req = _request(host=False)
    payload = _unpack_agora(provider.issue_token(req))
    assert req.room_name.encode() in payload and str(PATIENT_ID).encode() in payload
    assert provider.join_url(ROOM_ID, req.room_name, "x") == (
        f"http://localhost:8089/call/{ROOM_ID}?provider=agora"
    )


def test_agora_provider_refuses_bad_channel_and_expired_request() -> None:
    provider = AgoraProvider(CONFIG)
    with pytest.raises(ValueError, match="channel"):
        provider.issue_token(replace(_request(), room_name="x" * 64))
    with pytest.raises(ValueError, match="expired"):
        provider.issue_token(_request(ttl=timedelta(minutes=-1)))


# --- Jitsi -----------------------------------------------------------------------------


def _jitsi_claims(host: bool) -> dict[str, Any]:
    token = JitsiProvider(CONFIG).issue_token(_request(host=host))
    claims: dict[str, Any] = jwt.decode(
        token,
        JITSI_SECRET,
        algorithms=["HS256"],
        audience="jitsi",
        issuer="medtalk",
        options={"require": ["aud", "iss", "sub", "room", "exp", "nbf", "iat"]},
    )
    return claims


def test_jitsi_token_has_the_claims_prosody_checks() -> None:
    claims = _jitsi_claims(host=True)
    assert claims["sub"] == "meet.example.org"
    assert claims["room"] == "consult-0b6f3c1e"
    assert claims["context"]["user"] == {
        "id": str(DOCTOR_ID),
        "name": "Dr. Ada",
        "moderator": True,
    }


def test_jitsi_only_the_host_moderates() -> None:
    assert _jitsi_claims(host=False)["context"]["user"]["moderator"] is False


def test_jitsi_join_url() -> None:
    url = JitsiProvider(CONFIG).join_url(ROOM_ID, "consult-0b6f3c1e", "a.b.c")
    assert url == "https://Meet.Example.org/consult-0b6f3c1e?jwt=a.b.c"


# --- p2p -------------------------------------------------------------------------------


def test_p2p_round_trip() -> None:
    req = _request(host=False)
    claims = verify_room_token(P2PProvider(CONFIG).issue_token(req), SECRET, room_id=ROOM_ID)
    assert claims["room"] == str(ROOM_ID) and claims["sub"] == str(PATIENT_ID)
    assert (claims["name"], claims["role"], claims["host"]) == ("Pat Doe", "PATIENT", False)
    assert (claims["exp"], claims["nbf"], claims["aud"]) == (req.exp, req.nbf, "medtalk-room")


def test_p2p_refuses_expired_token() -> None:
    token = P2PProvider(CONFIG).issue_token(_request(ttl=timedelta(seconds=-5)))
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_room_token(token, SECRET)


def test_p2p_refuses_forged_token() -> None:
    forged = P2PProvider(replace(CONFIG, token_secret="x" * 40)).issue_token(_request())
    with pytest.raises(jwt.InvalidSignatureError):
        verify_room_token(forged, SECRET)
    claims = jwt.decode(forged, options={"verify_signature": False})
    with pytest.raises(jwt.InvalidTokenError):
        verify_room_token(jwt.encode(claims, "", algorithm="none"), SECRET)


def test_p2p_refuses_wrong_audience_and_wrong_room() -> None:
    token = P2PProvider(CONFIG).issue_token(_request())
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="medtalk-room")
    other_aud = jwt.encode({**claims, "aud": "jitsi"}, SECRET, algorithm="HS256")
    with pytest.raises(jwt.InvalidAudienceError):
        verify_room_token(other_aud, SECRET)
    with pytest.raises(jwt.InvalidTokenError, match="another room"):
        verify_room_token(token, SECRET, room_id=uuid.uuid4())


def test_p2p_join_url_carries_no_token_and_is_relative_without_a_public_url() -> None:
    provider = P2PProvider(CONFIG)
    # The server never reads a room token from the link, so the link does not carry one.
    assert provider.join_url(ROOM_ID, "r", "a.b") == f"http://localhost:8089/call/{ROOM_ID}"
    relative = P2PProvider(replace(CONFIG, public_url=""))
    assert relative.join_url(ROOM_ID, "r", None) == f"/call/{ROOM_ID}"
    agora = AgoraProvider(replace(CONFIG, public_url=""))
    assert agora.join_url(ROOM_ID, "r", None) == f"/call/{ROOM_ID}?provider=agora"


# --- TURN ------------------------------------------------------------------------------

TURN_SECRET = "turn-secret"
TURN_EXPIRY = datetime(2030, 1, 1, tzinfo=UTC)


def test_turn_credential_is_coturn_rest_hmac() -> None:
    username, credential = turn_credentials(TURN_SECRET, "user-42", TURN_EXPIRY)
    assert username == "1893456000:user-42"
    assert int(username.split(":")[0]) == int(TURN_EXPIRY.timestamp())
    expected = hmac.new(b"turn-secret", b"1893456000:user-42", hashlib.sha1).digest()
    assert credential == base64.b64encode(expected).decode()


def test_ice_configuration_shape() -> None:
    config = ice_configuration(
        ["stun:turn.example.org:3478"],
        ["turn:turn.example.org:3478", "turns:turn.example.org:5349"],
        TURN_SECRET,
        "user-42",
        TURN_EXPIRY,
    )
    username, credential = turn_credentials(TURN_SECRET, "user-42", TURN_EXPIRY)
    assert config == {
        "stunServers": ["stun:turn.example.org:3478"],
        "turnServers": [
            {"urls": "turn:turn.example.org:3478", "username": username, "credential": credential},
            {"urls": "turns:turn.example.org:5349", "username": username, "credential": credential},
        ],
    }


def test_ice_configuration_without_secret_or_urls_has_no_turn() -> None:
    stun = ["stun:stun.example.org:3478"]
    assert ice_configuration(stun, ["turn:x"], None, "u", TURN_EXPIRY)["turnServers"] == []
    assert ice_configuration(stun, [], TURN_SECRET, "u", TURN_EXPIRY)["turnServers"] == []


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        turn_credentials(TURN_SECRET, "u", datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(_request(), expires_at=datetime(2030, 1, 1))


# --- factory ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["p2p", "jitsi", "agora"])
def test_factory_builds_known_providers(name: str) -> None:
    assert create_video_provider(name, CONFIG).name == name


@pytest.mark.parametrize("name", ["zoom", "", "p2p2"])
def test_factory_rejects_unknown_names(name: str) -> None:
    with pytest.raises(ValueError, match="unknown video provider"):
        create_video_provider(name, CONFIG)


def test_factory_rejects_missing_settings() -> None:
    with pytest.raises(ValueError, match="jitsi_app_secret"):
        create_video_provider("jitsi", replace(CONFIG, jitsi_app_secret=""))
