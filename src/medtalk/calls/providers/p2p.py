"""Our own peer-to-peer calls over our Socket.IO signaling.

Who may join and signal is decided by the platform token (the user's JWT) and room membership,
checked on every REST call and socket event. The p2p room token (accessToken, hostToken,
guestToken) is what the call contract returns for every provider; for p2p it is a signed
statement of the same facts for third parties (an SFU or recorder placed in front of the call),
verified by `verify_room_token`. medtalk's own server and web client do not use it, so the join
link carries no token: `/call/<roomId>`, opened with the platform's `#token=` sign-in.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from medtalk.calls.providers.base import ProviderConfig, RoomTokenRequest, VideoProvider, require

AUDIENCE = "medtalk-room"
_REQUIRED = ["room", "sub", "role", "host", "exp", "nbf", "aud"]


class P2PProvider(VideoProvider):
    name = "p2p"

    def __init__(self, config: ProviderConfig) -> None:
        require(config, self.name, "token_secret")
        super().__init__(config)

    def issue_token(self, req: RoomTokenRequest) -> str:
        claims: dict[str, Any] = {
            "room": str(req.room_id),
            "sub": str(req.user_id),
            "name": req.user_name,
            "role": req.role,
            "host": req.is_host,
            "exp": req.exp,
            "nbf": req.nbf,
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self.config.token_secret, algorithm="HS256")

    def join_url(self, room_id: uuid.UUID, room_name: str, token: str | None) -> str:
        # No token in the link: the server never reads one there (see the module docstring).
        return f"{self.config.base_url}/call/{room_id}"


def verify_room_token(
    token: str, secret: str, *, room_id: uuid.UUID | None = None, leeway: int = 0
) -> dict[str, Any]:
    """Claims of a valid room token; raises jwt.InvalidTokenError otherwise.

    Pass room_id to also refuse a token minted for another room.
    """
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],  # pinned: never let the token pick its own algorithm
        audience=AUDIENCE,
        leeway=leeway,
        options={"require": _REQUIRED},
    )
    if room_id is not None and claims["room"] != str(room_id):
        raise jwt.InvalidTokenError("token is for another room")
    return claims
