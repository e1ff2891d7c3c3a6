"""Bearer tokens: verify JWTs (HS256 secret or an IdP's JWKS) into a Principal; mint dev tokens."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from medtalk.core.errors import Unauthorized
from medtalk.settings import Settings


class Role(StrEnum):
    PATIENT = "PATIENT"
    DOCTOR = "DOCTOR"
    ADMIN = "ADMIN"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    user_id: uuid.UUID
    name: str
    role: Role
    expires_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class TokenVerifier:
    """Checks signature, algorithm allow-list, expiry (with leeway), issuer and audience."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._algorithms = [a for a in settings.jwt_algorithms if a.lower() != "none"]
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    async def verify_header(self, header: str | None) -> Principal:
        """Verify an 'Authorization: Bearer <jwt>' value (the 'Bearer ' prefix is required)."""
        if not header:
            raise Unauthorized("missing bearer token")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("expected 'Bearer <token>'")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Principal:
        key: Any = self._settings.jwt_secret
        if self._jwks is not None:
            try:
                # PyJWKClient fetches over blocking HTTP (and caches); keep it off the loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            except jwt.PyJWTError as exc:
                raise Unauthorized(f"invalid token: {exc}") from None
            key = signing_key.key
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                leeway=self._settings.jwt_leeway_seconds,
                issuer=self._settings.jwt_issuer or None,
                audience=self._settings.jwt_audience or None,
                options={
                    "require": ["sub", "exp"],
                    "verify_aud": bool(self._settings.jwt_audience),
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired", code="TOKEN_EXPIRED") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        return _principal_from_claims(claims)


def _principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("token subject is not a user id") from None
    try:
        role = Role(str(claims.get("role", "")).upper())
    except ValueError:
        raise Unauthorized("token role must be PATIENT, DOCTOR or ADMIN") from None
    name = str(claims.get("name") or "").strip()[:200] or str(user_id)
    expires_at = (
        datetime.fromtimestamp(int(claims["exp"])).astimezone() if "exp" in claims else None
    )
    return Principal(user_id=user_id, name=name, role=role, expires_at=expires_at)


def mint_token(
    settings: Settings, user_id: uuid.UUID, name: str, role: Role, *, ttl_seconds: int | None = None
) -> str:
    """An HS256 token for dev and tests, signed with MEDTALK_JWT_SECRET."""
    now = datetime.now().astimezone()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "name": name,
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int(
            (now + timedelta(seconds=ttl_seconds or settings.dev_token_ttl_seconds)).timestamp()
        ),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
