"""Bearer tokens: verify JWTs (HS256 secret or an IdP's JWKS) into a Principal; mint dev tokens."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import jwt

from medtalk.core.errors import Unauthorized
from medtalk.settings import Settings


class Role(StrEnum):
    PATIENT = "PATIENT"
    DOCTOR = "DOCTOR"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)  # slots: one per open socket (issue 15)
class Principal:
    """Who is calling, as the token says."""

    user_id: uuid.UUID
    name: str
    role: Role
    expires_at: datetime | None = None
    # security (issue 9): what revocation keys on. `token_id` is the `jti` claim, else the
    # SHA-256 of the token; `issued_at` is `iat` (None when the token has none).
    token_id: str | None = None
    issued_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def issued_by_cutoff(principal: Principal, cutoff: datetime | None) -> bool:
    """True when a user's cut-off ('sign out everywhere' at `cutoff`) refuses this token: it
    was issued at or before it, compared in whole seconds (iat's precision), or has no iat."""
    if cutoff is None:
        return False
    if principal.issued_at is None:
        return True
    return int(principal.issued_at.timestamp()) <= int(cutoff.timestamp())


@dataclass(frozen=True)
class RecentRevocations:
    """Revocations made in a window of time: single tokens, and users' cut-offs."""

    token_ids: frozenset[str]
    cutoffs: dict[uuid.UUID, datetime]

    def __bool__(self) -> bool:
        return bool(self.token_ids or self.cutoffs)

    def revokes(self, principal: Principal) -> bool:
        if issued_by_cutoff(principal, self.cutoffs.get(principal.user_id)):
            return True
        return principal.token_id is not None and principal.token_id in self.token_ids


class RevocationCheck(Protocol):
    """Answers whether a verified token was revoked (logout, 'sign out everywhere')."""

    async def is_revoked(self, principal: Principal) -> bool: ...

    async def revoked_since(self, since: datetime) -> RecentRevocations:
        """The revocations made at or after `since` (any node's)."""
        ...


def bearer_token(value: object) -> str | None:
    """The token of a 'Bearer <jwt>' value or of a bare '<jwt>' (sockets accept both); None
    when there is none. The one place the scheme is taken off: nothing puts it back on."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    return token or None


class TokenVerifier:
    """Checks signature, algorithm allow-list, expiry (with leeway), issuer and audience."""

    def __init__(self, settings: Settings, revocations: RevocationCheck | None = None) -> None:
        self._settings = settings
        self._revocations = revocations
        self._algorithms = [a for a in settings.jwt_algorithms if a.lower() != "none"]
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    async def verify_bearer(self, token: str | None) -> Principal:
        """Verify a bearer token (see `bearer_token`); Unauthorized if there is none."""
        if not token:
            raise Unauthorized("missing bearer token")
        return await self.verify(token)

    async def verify(self, token: str) -> Principal:
        key: Any = self._settings.jwt_secret
        if self._jwks is not None:
            try:
                # PyJWKClient fetches over blocking HTTP (and caches); keep it off the loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            except Exception as exc:  # noqa: BLE001 - a bad token is a 401, whatever PyJWT raises
                raise Unauthorized(f"invalid token: {_reason(exc)}") from None
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
        except Exception as exc:  # noqa: BLE001 - security (issue 16): TypeError was a 500
            raise Unauthorized(f"invalid token: {_reason(exc)}") from None
        principal = _principal_from_claims(claims, token)
        if self._revocations is not None and await self._revocations.is_revoked(principal):
            raise Unauthorized("token revoked", code="TOKEN_REVOKED")
        return principal


def _reason(error: Exception) -> str:
    """PyJWT's own messages are safe to show; anything else is named by its kind only."""
    return str(error) if isinstance(error, jwt.PyJWTError) else "malformed"


def token_fingerprint(token: str) -> str:
    """How a token without `jti` is named in the revocation list (never the token itself).

    The hash covers the signed part (`header.payload`) only: the signature's spelling varies
    (base64 padding, spare bits, ECDSA's two valid signatures) and must not make a revoked
    token new again (issue 16). Any two verified tokens with equal signed parts are one token.
    """
    signed, _, _signature = token.rpartition(".")
    return "sha256:" + hashlib.sha256(signed.encode()).hexdigest()


def _principal_from_claims(claims: dict[str, Any], token: str) -> Principal:
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("token subject is not a user id") from None
    try:
        role = Role(str(claims.get("role", "")))  # exact: "admin" is not ADMIN (issue 16)
    except ValueError:
        raise Unauthorized("token role must be PATIENT, DOCTOR or ADMIN") from None
    name = str(claims.get("name") or "").strip()[:200] or str(user_id)
    expires_at = _timestamp(claims.get("exp"))
    jti = claims.get("jti")
    token_id = f"jti:{jti}"[:128] if isinstance(jti, str) and jti else token_fingerprint(token)
    issued_at = _timestamp(claims.get("iat"))
    return Principal(
        user_id=user_id,
        name=name,
        role=role,
        expires_at=expires_at,
        token_id=token_id,
        issued_at=issued_at,
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        # UTC, the one shared tzinfo: `astimezone()` would make a new one per datetime.
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError):
        raise Unauthorized("token time claims are out of range") from None


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
        "jti": uuid.uuid4().hex,
        "exp": int(
            (now + timedelta(seconds=ttl_seconds or settings.dev_token_ttl_seconds)).timestamp()
        ),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
