"""Signed, expiring download links: `{public_url}{path}?expires=<unix>&sig=<HMAC>`.

A link works without a bearer header (an <img> or <video> element). The signature is an
HMAC-SHA256 of `{subject}:{expires}` with the link secret; each feature names what a link
opens with its subject (a file id, `recording:<path>`), so a link for one thing never opens
another.
"""

from __future__ import annotations

import time

from medtalk.core.crypto import sign, signature_matches


class SignedLinks:
    def __init__(self, secret: str, ttl_seconds: int, public_url: str) -> None:
        self._secret = secret
        self._ttl = ttl_seconds
        self._public_url = public_url.rstrip("/")

    def url(self, path: str) -> str:
        """The unsigned address (opens with a bearer token)."""
        return self._public_url + path

    def signed(self, path: str, subject: str) -> str:
        """A link to `path`, valid for the configured lifetime, for `subject` only."""
        expires = int(time.time()) + self._ttl
        signature = sign(self._secret, f"{subject}:{expires}")
        return f"{self._public_url}{path}?expires={expires}&sig={signature}"

    def valid(self, subject: str, expires: int, signature: str) -> bool:
        """True for an unexpired link signed for `subject` (any other text: False)."""
        if expires < int(time.time()):
            return False
        return signature_matches(self._secret, f"{subject}:{expires}", signature)
