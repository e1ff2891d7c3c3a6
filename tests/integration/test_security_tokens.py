"""Token handling found weak by the outside probe (issue 16): logout by a re-encoded token,
mixed symmetric/asymmetric configurations, roles that are not spelled exactly."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from medtalk.core.auth import TokenVerifier
from medtalk.core.errors import Unauthorized
from medtalk.settings import Settings
from world import World, serve_jwks


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def server_token(world: World, user_id: uuid.UUID, role: str = "PATIENT", **claims: object) -> str:
    """A token the server's own secret signed, with exactly the claims given (no jti)."""
    now = int(time.time())
    body = {"sub": str(user_id), "name": "x", "role": role, "iat": now, "exp": now + 600}
    return jwt.encode(body | claims, world.server.settings.jwt_secret, algorithm="HS256")


def reencodings(token: str) -> list[str]:
    """The same token spelled differently: base64url padding, and other values of the
    signature's unused trailing bits (43 characters carry 256 bits plus 2 spare)."""
    head, _, signature = token.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    spare_bits = [alphabet[(last & ~0b11) | bits] for bits in range(4)]
    variants = [f"{head}.{signature[:-1]}{char}" for char in spare_bits]
    return [f"{token}=", f"{token}==", *[v for v in variants if v != token]]


async def test_logout_cannot_be_undone_by_re_encoding_a_token_without_jti(
    world: World,
) -> None:
    patient = await world.patient()
    token = server_token(world, patient.id)
    accepted = [
        t
        for t in reencodings(token)
        if (await world.http.get("/api/v1/chat/conversations", headers=bearer(t))).is_success
    ]
    assert accepted, "PyJWT no longer accepts re-encoded signatures: the probe needs updating"
    assert (await world.http.post("/api/v1/auth/logout", headers=bearer(token))).is_success
    for spelling in [token, *accepted]:
        answer = await world.http.get("/api/v1/chat/conversations", headers=bearer(spelling))
        assert answer.status_code == 401, spelling
        assert answer.json()["error"]["code"] == "TOKEN_REVOKED"


async def test_logout_by_a_re_encoded_token_revokes_the_original(world: World) -> None:
    patient = await world.patient()
    token = server_token(world, patient.id)
    assert (await world.http.post("/api/v1/auth/logout", headers=bearer(f"{token}="))).is_success
    refused = await world.http.get("/api/v1/chat/conversations", headers=bearer(token))
    assert refused.status_code == 401


@pytest.mark.parametrize("role", ["admin", "Admin", "doctor", "patient", " PATIENT"])
async def test_roles_are_exact(world: World, role: str) -> None:
    token = server_token(world, uuid.uuid4(), role)
    answer = await world.http.get("/api/v1/chat/conversations", headers=bearer(token))
    assert answer.status_code == 401
    admin = await world.http.get("/api/v1/admin/audit", headers=bearer(token))
    assert admin.status_code == 401


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    with serve_jwks(rsa_key.public_key()) as url:
        yield url


@pytest.mark.parametrize(
    "algorithms", [["RS256", "HS256"], ["HS512", "ES256"], ["HS256", "EdDSA"], ["PS256", "HS384"]]
)
def test_mixing_symmetric_and_asymmetric_algorithms_is_refused_at_start(
    algorithms: list[str], jwks_url: str
) -> None:
    with pytest.raises(ValidationError, match="symmetric"):
        Settings(jwt_algorithms=algorithms, jwt_jwks_url=jwks_url)


def test_a_jwks_needs_asymmetric_algorithms(jwks_url: str) -> None:
    with pytest.raises(ValidationError, match="JWKS"):
        Settings(jwt_algorithms=["HS256"], jwt_jwks_url=jwks_url)
    Settings(jwt_algorithms=["RS256", "ES256"], jwt_jwks_url=jwks_url)  # fine


async def test_any_verification_failure_is_a_401_never_a_500(jwks_url: str) -> None:
    """The probe's configuration, forced past start-up checks: an HS256 token whose kid names
    the JWKS's RSA key made PyJWT raise TypeError, which escaped as a 500."""
    settings = Settings.model_construct(
        **(Settings().model_dump() | {"jwt_algorithms": ["RS256", "HS256"]}),
    )
    settings.jwt_jwks_url = jwks_url
    verifier = TokenVerifier(settings)
    claims = {"sub": str(uuid.uuid4()), "role": "ADMIN", "exp": int(time.time()) + 60}
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": "k1"})
    ec_token = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": "k1"})
    for token in (forged, ec_token, "a.b.c", "é.é.é"):
        with pytest.raises(Unauthorized):
            await verifier.verify(token)
