"""What a file really is, from its first bytes (magic numbers), and what we accept."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import filetype

from medtalk.chat.schemas import ContentType
from medtalk.core.errors import UnsupportedMedia

# Bytes filetype needs to recognise every format below.
SNIFF_BYTES = 8192

ALLOWED: dict[str, ContentType] = {
    "image/jpeg": ContentType.IMAGE,
    "image/png": ContentType.IMAGE,
    "image/webp": ContentType.IMAGE,
    "image/heic": ContentType.IMAGE,
    "application/pdf": ContentType.FILE,
    "application/dicom": ContentType.FILE,
    "audio/ogg": ContentType.AUDIO,
    "audio/mpeg": ContentType.AUDIO,
    "audio/mp4": ContentType.AUDIO,
    "audio/m4a": ContentType.AUDIO,
    "audio/x-wav": ContentType.AUDIO,
    "audio/wav": ContentType.AUDIO,
    "video/mp4": ContentType.VIDEO,
    "video/webm": ContentType.VIDEO,
}


def sniff(head: bytes, declared: ContentType | None) -> tuple[str, ContentType, str]:
    """(mime type, content type, extension) of the file that starts with `head`.

    Raises UnsupportedMedia when the bytes are not an allowed type, or not the declared one.
    """
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED:
        found = kind.mime if kind else "unknown"
        raise UnsupportedMedia(
            f"file content ({found}) is not an accepted image, document, audio or video type"
        )
    content_type, mime = ALLOWED[kind.mime], kind.mime
    # A voice note recorded as .webm/.mp4 holds only audio; accept it where AUDIO was declared
    # (files/media.py then checks it has no video) and serve it as audio/webm or audio/mp4.
    if declared is ContentType.AUDIO and content_type is ContentType.VIDEO:
        content_type, mime = ContentType.AUDIO, mime.replace("video/", "audio/")
    if declared is not None and declared is not content_type:
        raise UnsupportedMedia(
            f"fileType {declared.value} does not match the file's content ({kind.mime})"
        )
    return mime, content_type, kind.extension


@dataclass(frozen=True)
class UploadLimits:
    """Largest accepted upload per content type, in bytes."""

    image: int = 10 * 1024 * 1024
    file: int = 25 * 1024 * 1024
    audio: int = 25 * 1024 * 1024
    video: int = 100 * 1024 * 1024

    def for_type(self, content_type: ContentType) -> int:
        return int(getattr(self, content_type.value.lower()))

    @property
    def largest(self) -> int:
        return max(self.image, self.file, self.audio, self.video)

    def capped(self, cap: int) -> UploadLimits:
        return UploadLimits(
            min(self.image, cap), min(self.file, cap), min(self.audio, cap), min(self.video, cap)
        )


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def clean_file_name(name: str | None, extension: str) -> str:
    """A display name safe to echo back and to put in Content-Disposition."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE.sub("_", base).strip(" .")[:200]
    if not base:
        base = "file"
    if "." not in base:
        base = f"{base}.{extension}"
    return base
