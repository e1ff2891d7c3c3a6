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
    "image/heif": ContentType.IMAGE,
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
    found, extension = (kind.mime, kind.extension) if kind else (_heif_brand(head), "heif")
    if found not in ALLOWED:
        raise UnsupportedMedia(
            f"file content ({found}) is not an accepted image, document, audio or video type"
        )
    content_type, mime = ALLOWED[found], found
    # A voice note recorded as .webm/.mp4 holds only audio; accept it where AUDIO was declared
    # (files/media.py then checks it has no video) and serve it as audio/webm or audio/mp4.
    if declared is ContentType.AUDIO and content_type is ContentType.VIDEO:
        content_type, mime = ContentType.AUDIO, mime.replace("video/", "audio/")
    if declared is not None and declared is not content_type:
        raise UnsupportedMedia(
            f"fileType {declared.value} does not match the file's content ({found})"
        )
    return mime, content_type, extension


# HEIF images filetype does not name (it knows HEIC: major brand "heic", or "mif1" + "heic"):
# 10-bit HEIC ("heix"), HEVC image sequences, and plain "mif1" HEIF.
_HEIF_BRANDS = {b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def _heif_brand(head: bytes) -> str:
    """ "image/heif" if `head` starts an ISO-BMFF file whose major brand is a HEIF image's."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return "unknown"
    size = int.from_bytes(head[:4], "big")
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if head[8:12] in _HEIF_BRANDS and b"avif" not in brands:
        return "image/heif"
    return "unknown"


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


def with_extension(name: str, extension: str) -> str:
    """`name` with its extension replaced (a HEIC photo stored as JPEG: "IMG_1.HEIC" ->
    "IMG_1.jpg")."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem}.{extension}"
