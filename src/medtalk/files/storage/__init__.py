"""File stores behind one interface, chosen by configuration in `create_storage`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from medtalk.core.crypto import KeyRing
from medtalk.files.storage.base import ByteRange, FileStorage
from medtalk.files.storage.local import LocalStorage
from medtalk.settings import Settings

__all__ = ["ByteRange", "FileStorage", "LocalStorage", "create_storage"]


def create_storage(settings: Settings, keys: KeyRing) -> FileStorage:
    """MEDTALK_STORAGE_URL: empty or file:///path -> local disk, s3://bucket/prefix -> S3."""
    url = urlsplit(settings.storage_url)
    if url.scheme in ("", "file"):
        root = Path(url.path) if url.path else settings.data_dir / "files"
        return LocalStorage(root, keys)
    if url.scheme == "s3":
        from medtalk.files.storage.s3 import S3Storage

        if not url.netloc:
            raise ValueError("MEDTALK_STORAGE_URL=s3://bucket[/prefix] needs a bucket name")
        return S3Storage(
            url.netloc,
            url.path,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            server_side_encryption=settings.s3_server_side_encryption,
            kms_key_id=settings.s3_kms_key_id,
            part_bytes=settings.s3_part_bytes,
            public_base_url=settings.s3_public_base_url,
        )
    raise ValueError(f"MEDTALK_STORAGE_URL scheme {url.scheme!r} is not file or s3")
