"""Voice notes and video clips: read by ffprobe before they are stored, with their duration.

A file ffprobe cannot read, or whose streams are not what was declared (a voice note with
pictures in it), is refused. MediaRecorder's WebM carries no duration (it is written live);
ffmpeg copies its streams into a WebM that has one, with cues, so players can seek it.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from medtalk.chat.schemas import ContentType
from medtalk.core.errors import Invalid
from medtalk.recordings.media import WEBM, MediaError, MediaTools, Probe

READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class CheckedMedia:
    path: Path
    duration_seconds: float

    async def chunks(self) -> AsyncIterator[bytes]:
        with self.path.open("rb") as source:
            while piece := source.read(READ_CHUNK):
                yield piece


class MediaCheck:
    def __init__(self, tools: MediaTools, work_dir: Path) -> None:
        self._tools = tools
        self._work_dir = work_dir

    @property
    def available(self) -> bool:
        return self._tools.can_probe

    @asynccontextmanager
    async def checked(
        self, chunks: AsyncIterator[bytes], mime: str, content_type: ContentType
    ) -> AsyncIterator[CheckedMedia]:
        """The upload spooled to a private work file and measured; the file (plaintext media)
        is removed when the block ends, whatever happens in it."""
        work = self._work_dir / uuid.uuid4().hex
        work.mkdir(parents=True, mode=0o700)
        try:
            path = work / "upload"
            with path.open("wb") as out:
                async for piece in chunks:
                    out.write(piece)
            probe = await self._probe(path)
            if probe.duration is None and mime.endswith("/webm"):
                remuxed = work / "remuxed.webm"
                if await self._remux(path, remuxed):
                    path, probe = remuxed, await self._probe(remuxed)
            yield CheckedMedia(path, _checked_duration(probe, content_type))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def _probe(self, path: Path) -> Probe:
        try:
            return await self._tools.probe(path)
        except MediaError:
            raise _unreadable("the file could not be read as audio or video") from None

    async def _remux(self, source: Path, target: Path) -> bool:
        try:
            return await self._tools.remux([source], target, WEBM)
        except MediaError:
            raise _unreadable("the file could not be read as audio or video") from None


def _checked_duration(probe: Probe, content_type: ContentType) -> float:
    if "audio" not in probe.streams and content_type is ContentType.AUDIO:
        raise _unreadable("the file has no audio in it")
    if "video" in probe.streams and content_type is ContentType.AUDIO:
        raise _unreadable("a voice message must hold audio only; send it as VIDEO")
    if "video" not in probe.streams and content_type is ContentType.VIDEO:
        raise _unreadable("the file has no video in it")
    if probe.duration is None or probe.duration <= 0:
        raise _unreadable("the duration of the recording could not be read")
    return probe.duration


def _unreadable(message: str) -> Invalid:
    return Invalid(message, code="MEDIA_UNREADABLE")
