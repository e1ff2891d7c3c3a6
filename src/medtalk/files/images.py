"""Images: strip metadata (EXIF, GPS, XMP, comments) by re-encoding, and make thumbnails.

Phones write the patient's home location into photos; what we store is a fresh encoding of
the pixels (orientation applied) that carries only what display needs (ICC profile,
transparency, animation timing). HEIC/HEIF photos (the iPhone's default) are decoded through
pillow-heif and stored as JPEG: most browsers cannot show HEIC, and encoding HEVC is slow.

A decoded image takes about 4 bytes a pixel whatever its file size (a 100 KB PNG can be
6000x6000), so decoding is bounded (security, issue 16): the pixel count is checked before
decoding, the image is decoded once and never copied whole (orientation in place, thumbnail
by `reduce` after the full-size encoding), `ImageDecoder` lets only a few decode at once, and
the freed memory is handed back to the system when none is decoding.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medtalk.core.errors import Invalid

if TYPE_CHECKING:
    from PIL import Image

# mime type -> Pillow format for the images we can re-encode.
CLEANABLE = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
}
# Formats we decode but do not write back: the mime type they are stored as instead.
STORED_AS = {"HEIF": "image/jpeg"}
EXTENSIONS = {"image/jpeg": "jpg"}
# Image info that is display data, not metadata about the patient.
_KEPT_INFO = ("icc_profile", "transparency", "duration", "loop", "background")
JPEG_QUALITY = 90
THUMBNAIL_QUALITY = 80

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CleanedImage:
    data: bytes
    thumbnail: bytes  # JPEG
    mime: str  # of `data`: the upload's own, or what it was converted to (HEIC -> JPEG)


def clean_image(data: bytes, mime: str, *, max_pixels: int, thumbnail_px: int) -> CleanedImage:
    """Re-encode `data` without metadata, plus a JPEG thumbnail; Invalid if undecodable."""
    image_format = CLEANABLE[mime]
    stored_mime = STORED_AS.get(image_format, mime)
    output_format = CLEANABLE[stored_mime]
    _register_heif()
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            if image.width * image.height > max_pixels:  # known from the header alone
                raise Invalid(
                    f"the image is {image.width}x{image.height} pixels; "
                    f"at most {max_pixels} pixels are accepted"
                )
            image.load()
            kept = {name: image.info[name] for name in _KEPT_INFO if name in image.info}
            if getattr(image, "is_animated", False) and output_format == image_format:
                cleaned = _encode_animation(image, image_format, kept)
                image.seek(0)
                upright = image.copy()  # one frame
            else:  # a HEIF file's other images (bursts, depth maps) are not kept
                ImageOps.exif_transpose(image, in_place=True)  # no copy when already upright
                upright = image
                cleaned = _encode(upright, output_format, kept)
            return CleanedImage(cleaned, _thumbnail(upright, thumbnail_px), stored_mime)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, RuntimeError) as e:
        raise Invalid("the image cannot be decoded") from e
    except Image.DecompressionBombError:
        raise Invalid(f"the image has more than {max_pixels} pixels") from None


@functools.cache
def _register_heif() -> None:
    # Pillow and pillow-heif (about 13 MB) are imported on the first image, not at start.
    import pillow_heif

    pillow_heif.register_heif_opener()


def _encode(image: Image.Image, image_format: str, kept: dict[str, object]) -> bytes:
    # Drop exif, xmp, comments and text chunks that Pillow would otherwise carry along.
    image.info = {name: value for name, value in kept.items()}
    options: dict[str, object] = {"icc_profile": kept.get("icc_profile")}
    if "transparency" in kept:
        options["transparency"] = kept["transparency"]
    if image_format in ("JPEG", "WEBP"):
        options["quality"] = JPEG_QUALITY
    if image_format == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format=image_format, **{k: v for k, v in options.items() if v is not None})
    return out.getvalue()


def _encode_animation(image: Image.Image, image_format: str, kept: dict[str, object]) -> bytes:
    image.info = {name: value for name, value in kept.items()}
    out = io.BytesIO()
    options = {k: v for k, v in kept.items() if k in ("duration", "loop", "icc_profile")}
    image.save(out, format=image_format, save_all=True, **options)
    return out.getvalue()


def _thumbnail(image: Image.Image, max_px: int) -> bytes:
    """Shrinks `image` itself (its full-size encoding is done): `thumbnail` reduces by whole
    factors first, so no second full-size copy is made."""
    from PIL import Image

    thumb = image
    thumb.thumbnail((max_px, max_px), reducing_gap=2.0)
    if thumb.mode in ("RGBA", "LA", "P", "PA"):
        thumb = thumb.convert("RGBA")
        flattened = Image.new("RGB", thumb.size, (255, 255, 255))
        flattened.paste(thumb, mask=thumb.getchannel("A"))
        thumb = flattened
    elif thumb.mode != "RGB":
        thumb = thumb.convert("RGB")
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


class ImageDecoder:
    """Runs `clean_image` off the event loop, at most `concurrency` slots' worth at a time.

    A HEIF decode takes two slots (or all, if fewer): libheif's decoded buffer and Pillow's
    copy of it are both held, about twice the memory of another format's decode.
    """

    def __init__(self, *, max_pixels: int, thumbnail_px: int, concurrency: int = 2) -> None:
        self._max_pixels = max_pixels
        self._thumbnail_px = thumbnail_px
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        # Only one decode at a time gathers slots: two gathering HEIF decodes, each holding
        # one slot and waiting for another, would wait for ever.
        self._gathering = asyncio.Lock()
        self._decoding = 0

    async def clean(self, data: bytes, mime: str) -> CleanedImage:
        weight = min(self._concurrency, 2 if CLEANABLE[mime] == "HEIF" else 1)
        held = 0
        try:
            async with self._gathering:
                while held < weight:
                    await self._slots.acquire()
                    held += 1
            return await self._clean(data, mime)
        finally:
            for _ in range(held):
                self._slots.release()

    async def _clean(self, data: bytes, mime: str) -> CleanedImage:
        self._decoding += 1
        try:
            return await asyncio.to_thread(
                clean_image,
                data,
                mime,
                max_pixels=self._max_pixels,
                thumbnail_px=self._thumbnail_px,
            )
        finally:
            self._decoding -= 1
            if self._decoding == 0 and _malloc_trim is not None:
                # glibc keeps freed image blocks in its arenas; give them back.
                await asyncio.to_thread(_malloc_trim, 0)


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back this way
        return None
    return trim


_malloc_trim = _find_malloc_trim()
