"""ffmpeg and ffprobe for assembled recordings: container from the bytes, remux, duration."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

REMUX_TIMEOUT_SECONDS = 1800.0


@dataclass(frozen=True)
class Container:
    mime_type: str
    extension: str


WEBM = Container("video/webm", "webm")
MP4 = Container("video/mp4", "mp4")


@dataclass(frozen=True)
class Probe:
    """What ffprobe found: the duration (None if the file does not say) and the kinds of its
    streams ("audio", "video"; an MP3's cover picture is not counted as video)."""

    duration: float | None
    streams: tuple[str, ...]


class MediaError(Exception):
    """ffmpeg/ffprobe could not make sense of the recording."""


def container_of(head: bytes) -> Container | None:
    """WebM/Matroska (EBML magic; what MediaRecorder writes) or MP4 (what Jibri writes)."""
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM
    if head[4:8] == b"ftyp":
        return MP4
    return None


class MediaTools:
    """Runs ffmpeg to give the concatenated chunks a duration and cues (MediaRecorder's live
    WebM has neither, so players cannot seek it), and ffprobe to measure it."""

    def __init__(self, ffmpeg: str, ffprobe: str) -> None:
        self._ffmpeg = shutil.which(ffmpeg) if ffmpeg else None
        self._ffprobe = shutil.which(ffprobe) if ffprobe else None
        if ffmpeg and self._ffmpeg is None:
            logger.warning("ffmpeg not found: recordings are stored without remuxing")

    async def remux(self, segments: list[Path], target: Path, container: Container) -> bool:
        """Copy the streams of the segments, one after the other, into one well-formed file
        (no re-encoding); False without ffmpeg."""
        if self._ffmpeg is None:
            return False
        if len(segments) == 1:
            source = ["-fflags", "+genpts", "-i", str(segments[0])]
        else:  # a recorder that restarted (reloaded tab): ffmpeg's concat demuxer joins them
            listing = target.with_suffix(".txt")
            listing.write_text("".join(f"file '{path}'\n" for path in segments))
            source = ["-f", "concat", "-safe", "0", "-i", str(listing)]
        options = ["-movflags", "+faststart"] if container is MP4 else []
        await _run(
            self._ffmpeg,
            "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *source,
            "-map", "0", "-c", "copy", *options, "-f", container.extension, str(target),
        )  # fmt: skip
        return True

    async def duration(self, path: Path) -> float | None:
        if self._ffprobe is None:
            return None
        output = await _run(
            self._ffprobe,
            "-v", "error", "-show_entries", "format=duration",
            "-of", "default=noprint_wrappers=1:nokey=1", str(path),
        )  # fmt: skip
        try:
            return round(float(output.strip()), 3)
        except ValueError:
            return None

    @property
    def can_probe(self) -> bool:
        return self._ffprobe is not None

    async def probe(self, path: Path) -> Probe:
        """Duration and stream kinds; MediaError if ffprobe cannot read the file."""
        if self._ffprobe is None:
            raise MediaError("ffprobe is not installed")
        output = await _run(
            self._ffprobe,
            "-v", "error", "-show_entries",
            "format=duration:stream=codec_type:stream_disposition=attached_pic",
            "-of", "json", str(path),
        )  # fmt: skip
        found = json.loads(output or "{}")
        streams = tuple(
            str(stream.get("codec_type"))
            for stream in found.get("streams", [])
            if not stream.get("disposition", {}).get("attached_pic")
        )
        try:
            duration: float | None = round(float(found["format"]["duration"]), 3)
        except (KeyError, TypeError, ValueError):
            duration = None
        return Probe(duration, streams)


async def _run(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(REMUX_TIMEOUT_SECONDS):
            stdout, stderr = await process.communicate()
    except BaseException:
        # Cancelled (shutdown) or timed out: never leave ffmpeg running behind us.
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            await process.wait()
        raise
    if process.returncode != 0:
        # ffmpeg's message names the problem (codec, truncated file), not the content.
        raise MediaError(
            f"{Path(command[0]).name} failed: {stderr.decode(errors='replace')[-300:]}"
        )
    return stdout.decode(errors="replace")
