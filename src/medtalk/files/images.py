"""Images: strip metadata (EXIF, GPS, XMP, comments) by re-encoding, and make thumbnails.

Phones write the patient's home location into photos; what we store is a fresh encoding of
the pixels (orientation applied) that carries only what display needs (ICC profile,
transparency, animation timing). HEIC is not decodable by Pillow alone: it is stored as sent.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from medtalk.core.errors import Invalid

# mime type -> Pillow format for the images we can re-encode.
CLEANABLE = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# Image info that is display data, not metadata about the patient.
_KEPT_INFO = ("icc_profile", "transparency", "duration", "loop", "background")
JPEG_QUALITY = 90
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class CleanedImage:
    data: bytes
    thumbnail: bytes  # JPEG


def clean_image(data: bytes, mime: str, *, max_pixels: int, thumbnail_px: int) -> CleanedImage:
    """Re-encode `data` without metadata, plus a JPEG thumbnail; Invalid if undecodable."""
    image_format = CLEANABLE[mime]
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            if image.width * image.height > max_pixels:
                raise Invalid(
                    f"the image is {image.width}x{image.height} pixels; "
                    f"at most {max_pixels} pixels are accepted"
                )
            image.load()
            kept = {name: image.info[name] for name in _KEPT_INFO if name in image.info}
            if getattr(image, "is_animated", False):
                cleaned = _encode_animation(image, image_format, kept)
                image.seek(0)
                upright = image.copy()
            else:
                upright = ImageOps.exif_transpose(image) or image
                cleaned = _encode(upright, image_format, kept)
            return CleanedImage(cleaned, _thumbnail(upright, thumbnail_px))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise Invalid("the image cannot be decoded") from error
    except Image.DecompressionBombError:
        raise Invalid(f"the image has more than {max_pixels} pixels") from None


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
    thumb = image.copy()
    thumb.thumbnail((max_px, max_px))
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
