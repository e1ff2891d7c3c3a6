"""Tokens from a hospital's identity provider: RS256 keys published as a JWKS, iss/aud checked."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from world import serve_jwks, start_server

ISSUER = "https://idp.hospital.test/"
AUDIENCE = "medtalk"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    with serve_jwks(signing_key.public_key()) as url:
        yield url


def idp_token(key: rsa.RSAPrivateKey, **overrides: object) -> str:
    claims = {
        "sub": str(uuid.uuid4()),
        "name": "BS. Phạm Minh D",
        "role": "DOCTOR",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 300,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def test_rs256_tokens_from_jwks(
    tmp_path: Path, jwks_url: str, signing_key: rsa.RSAPrivateKey
) -> None:
    with start_server(
        tmp_path,
        "",
        backend="sqlite",
        jwt_jwks_url=jwks_url,
        jwt_algorithms=["RS256"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    ) as live:

        def status(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{live.base_url}/api/v1/chat/conversations"
            return httpx.get(url, headers=headers, timeout=10).status_code

        assert status(idp_token(signing_key)) == 200
        assert status(idp_token(signing_key, iss="https://evil.test/")) == 401
        assert status(idp_token(signing_key, aud="another-app")) == 401
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert status(idp_token(other_key)) == 401
        # An HS256 token signed with the public key (algorithm confusion) is refused.
        hs = jwt.encode(
            {
                "sub": str(uuid.uuid4()),
                "role": "ADMIN",
                "exp": int(time.time()) + 60,
                "iss": ISSUER,
                "aud": AUDIENCE,
            },
            "a-shared-secret-that-is-long-enough-for-hs256",
            algorithm="HS256",
            headers={"kid": "k1"},
        )
        assert status(hs) == 401
