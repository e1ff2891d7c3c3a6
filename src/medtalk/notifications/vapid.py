"""VAPID (RFC 8292): the server's P-256 key pair that signs every Web Push request.

The private key comes from MEDTALK_VAPID_PRIVATE_KEY, or from the file `medtalk keys vapid`
wrote under the data dir (beside the dev encryption key). Dev mode makes that file on first
use; production refuses to push without a key it was given.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

KEY_FILE = "vapid-private-key"
DEV_SUBJECT = "mailto:dev@medtalk.invalid"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class VapidKeys:
    private_key: str  # the raw 32-byte scalar, base64url (what web-push tools exchange)

    @classmethod
    def generate(cls) -> VapidKeys:
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(b64url(key.private_numbers().private_value.to_bytes(32, "big")))

    @cached_property
    def signer(self) -> Vapid:
        return Vapid.from_string(self.private_key)

    @cached_property
    def public_key(self) -> str:
        """The browser's `applicationServerKey`: the uncompressed point, base64url."""
        point = self.signer.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def save(self, data_dir: Path) -> Path:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / KEY_FILE
        path.write_text(self.private_key + "\n")
        path.chmod(0o600)
        return path


class VapidKeyMissing(RuntimeError):
    """Production Web Push without a key (run `medtalk keys vapid`)."""


def load_vapid_keys(private_key: str, data_dir: Path, *, dev: bool) -> VapidKeys:
    """The configured key, the stored one, or (dev only) a new stored one."""
    if private_key:
        return VapidKeys(private_key.strip())
    path = data_dir / KEY_FILE
    if path.exists():
        return VapidKeys(path.read_text().strip())
    if not dev:
        raise VapidKeyMissing(
            "Web Push needs a VAPID key: run `medtalk keys vapid` or set MEDTALK_VAPID_PRIVATE_KEY"
        )
    keys = VapidKeys.generate()
    keys.save(data_dir)
    return keys
