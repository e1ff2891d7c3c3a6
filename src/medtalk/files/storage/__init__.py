"""File stores behind one interface, chosen by configuration in `create_storage`."""

from __future__ import annotations

from medtalk.core.crypto import KeyRing
from medtalk.files.storage.base import FileStorage
from medtalk.files.storage.local import LocalStorage
from medtalk.settings import Settings

__all__ = ["FileStorage", "LocalStorage", "create_storage"]


def create_storage(settings: Settings, keys: KeyRing) -> FileStorage:
    return LocalStorage(settings.data_dir / "files", keys)
