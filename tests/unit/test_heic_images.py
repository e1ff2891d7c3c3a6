"""files/images.py with HEIC/HEIF (the iPhone's default photo format), through pillow-heif:
recognised by its bytes, decoded under the same limits as other images, stored as JPEG without
metadata, with a thumbnail."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from typing import Any

import pillow_heif
import pytest
from PIL import Image

from medtalk.chat.schemas import ContentType
from medtalk.core.errors import Invalid
from medtalk.files import images
from medtalk.files.validation import sniff, with_extension

GPS_INFO = 0x8825


def heic_with_gps(size: tuple[int, int] = (64, 48), *, brand: bytes | None = None) -> bytes:
    """A phone photo as HEIC: camera make, GPS position and orientation 6 (90° clockwise)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    exif[GPS_INFO] = {1: "N", 2: (21.0, 1.0, 42.0), 3: "E", 4: (105.0, 51.0, 12.0)}
    out = io.BytesIO()
    image = Image.new("RGB", size, (30, 120, 200))
    pillow_heif.from_pillow(image).save(out, quality=60, exif=exif.tobytes())
    data = out.getvalue()
    if brand is not None:  # e.g. "heix" (10-bit HEIC), which filetype does not name
        data = data[:8] + brand + data[12:]
    return data


def test_heic_is_an_image_by_its_bytes() -> None:
    data = heic_with_gps()
    assert sniff(data[:8192], None)[:2] == ("image/heic", ContentType.IMAGE)
    assert sniff(heic_with_gps(brand=b"heix")[:8192], None)[0] == "image/heif"


def test_heic_is_stored_as_jpeg_without_metadata_and_upright() -> None:
    cleaned = images.clean_image(
        heic_with_gps((64, 48)), "image/heic", max_pixels=24_000_000, thumbnail_px=32
    )
    assert cleaned.mime == "image/jpeg"
    assert b"PhoneMaker" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as stored:
        assert stored.format == "JPEG"
        assert dict(stored.getexif()) == {}
        assert stored.size == (48, 64), "orientation is applied, not lost"
    with Image.open(io.BytesIO(cleaned.thumbnail)) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (24, 32)


def test_heic_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(Invalid, match="at most 3000 pixels"):
        images.clean_image(heic_with_gps((64, 48)), "image/heic", max_pixels=3000, thumbnail_px=32)


def test_undecodable_heic_is_refused() -> None:
    truncated = heic_with_gps()[:200]
    with pytest.raises(Invalid, match="cannot be decoded"):
        images.clean_image(truncated, "image/heic", max_pixels=24_000_000, thumbnail_px=32)


def test_a_heic_name_gets_the_stored_extension() -> None:
    assert with_extension("IMG_0042.HEIC", "jpg") == "IMG_0042.jpg"
    assert with_extension("photo", "jpg") == "photo.jpg"


async def test_a_heic_decode_takes_two_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """With two slots, a HEIC decode runs alone; two PNG decodes run side by side."""
    running, most = 0, 0
    lock = threading.Lock()

    def slow_clean(data: bytes, mime: str, **_limits: Any) -> images.CleanedImage:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # a decode that takes time, so decodes overlap
        with lock:
            running -= 1
        return images.CleanedImage(data, b"", mime)

    monkeypatch.setattr(images, "clean_image", slow_clean)
    decoder = images.ImageDecoder(max_pixels=100, thumbnail_px=10, concurrency=2)
    await asyncio.gather(*(decoder.clean(b"x", "image/png") for _ in range(4)))
    assert most == 2
    most = 0
    await asyncio.gather(
        *(decoder.clean(b"x", mime) for mime in ("image/heic", "image/png", "image/heif"))
    )
    assert most == 1
