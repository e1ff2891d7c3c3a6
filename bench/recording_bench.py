"""Call recording benchmark: recording size per minute, upload and assembly time.

    .venv/bin/python bench/recording_bench.py [--minutes 1 --minutes 5]

For each length, ffmpeg makes a WebM like the web client's recorder writes (a 1280x480 canvas
of both videos side by side, VP8 at Chrome's default 2.5 Mbps, Opus at 128 kbps; testsrc2 has
motion in every frame, so this is a busy-scene upper bound). A medtalk server (SQLite, local
AES-256-GCM file store, in-process) gets the consent flow, the file in ~3-second chunks over
the chunk endpoint, then End Call; the time from End Call to `recording_ready` is the
assembly time (decrypt chunks, ffmpeg remux, ffprobe, encrypt and store, final-chunk grace 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from world import World, start_server  # noqa: E402

MB = 1_000_000
CHUNK_SECONDS = 3.0


def make_webm(path: Path, seconds: float) -> float:
    started = time.monotonic()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x480:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", str(seconds),
         "-c:v", "libvpx", "-b:v", "2500k", "-deadline", "realtime", "-cpu-used", "8",
         "-c:a", "libopus", "-b:a", "128k", str(path)],
        check=True,
    )  # fmt: skip
    return time.monotonic() - started


async def record(server_dir: Path, data: bytes, seconds: float) -> dict[str, float]:
    overrides = {"recording_final_chunk_seconds": 0.0, "recording_poll_seconds": 1.0}
    with contextlib.ExitStack() as stack:
        server = await asyncio.to_thread(
            stack.enter_context, start_server(server_dir, "", backend="sqlite", **overrides)
        )
        try:
            async with World(server) as world:
                world.http.timeout = 120
                call = await world.call_in_progress()
                recording_id = await call.recording_runs()
                chunk = max(1, int(len(data) * CHUNK_SECONDS / seconds))
                started = time.monotonic()
                for index, start in enumerate(range(0, len(data), chunk)):
                    response = await call.doctor.uploads_chunk(
                        call.room_id, recording_id, index, data[start : start + chunk]
                    )
                    assert response.status_code == 201, response.text
                uploaded = time.monotonic() - started
                ended = time.monotonic()
                await call.doctor.ends_call(call.room_id)
                ready = await call.doctor_socket.events.next("recording_ready", timeout=1800)
                assembly = time.monotonic() - ended
        finally:
            await asyncio.to_thread(stack.close)
    return {
        "upload_s": uploaded,
        "assembly_s": assembly,
        "size": float(ready["size"]),
        "duration": float(ready["durationSeconds"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, action="append")
    args = parser.parse_args()
    print("| length | recorder MB/min | stored MB | ffprobe duration | upload (3 s chunks) "
          "| assembly (End Call -> recording_ready) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for minutes in args.minutes or [1.0, 5.0]:
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / "call.webm"
            make_webm(source, minutes * 60)
            data = source.read_bytes()
            result = asyncio.run(record(Path(scratch) / "data", data, minutes * 60))
        print(
            f"| {minutes:g} min | {len(data) / MB / minutes:.1f} | {result['size'] / MB:.1f} "
            f"| {result['duration']:.1f} s | {result['upload_s']:.1f} s "
            f"| {result['assembly_s']:.2f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
