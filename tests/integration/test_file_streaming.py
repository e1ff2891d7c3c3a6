"""Large files stream: a 20 MB upload and download keep the server's memory flat, on local
disk and on S3 (moto's standalone S3 server on loopback; see world.py). The 200 MB figures
are in bench/files_bench.py. Also: S3 downloads redirected to presigned URLs."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from medtalk.core.crypto import sign
from world import LiveServer, S3Emulator, World, start_server

MiB = 1024 * 1024
LARGE = {"max_upload_bytes": 32 * MiB, "max_file_bytes": 32 * MiB}


@pytest.fixture(scope="module", params=["local", "s3"])
def large_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    overrides: dict[str, object] = dict(LARGE)
    if request.param == "s3":
        emulator: S3Emulator = request.getfixturevalue("s3")
        overrides |= emulator.settings(emulator.new_bucket())
    data_dir = tmp_path_factory.mktemp(f"medtalk-large-{request.param}")
    with start_server(data_dir, "", backend=f"sqlite-{request.param}", **overrides) as live:
        yield live


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A 20 MB PDF on disk (the client streams it; it is never in the test's memory whole)."""
    path = tmp_path_factory.mktemp("large") / "scan.pdf"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for piece in [b"%PDF-1.4\n"] + [os.urandom(MiB) for _ in range(20)]:
            out.write(piece)
            digest.update(piece)
    return path, digest.hexdigest()


class PeakRss:
    """Samples this process's RSS (the server runs in a thread of it) every 10 ms."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / MiB


async def test_twenty_megabytes_stream_up_and_down_in_bounded_memory(
    large_server: LiveServer, document: tuple[Path, str]
) -> None:
    path, expected = document
    async with World(large_server) as world:
        patient, doctor, conversation = await world.consultation()
        # Warm up first: the S3 client loads botocore's service model (~10 MB) on first use.
        warm_up = await patient.post(
            "/api/v1/chat/messages/upload",
            data={"conversationId": conversation},
            files={"file": ("a.pdf", b"%PDF-1.4\n", "application/pdf")},
        )
        assert (await world.http.get(warm_up.json()["fileUrl"])).status_code == 200
        with PeakRss() as rss, path.open("rb") as source:  # noqa: ASYNC230
            response = await patient.post(
                "/api/v1/chat/messages/upload",
                data={"conversationId": conversation, "fileType": "FILE"},
                files={"file": ("scan.pdf", source, "application/pdf")},
                timeout=60,
            )
            assert response.status_code == 201, response.text
            digest = hashlib.sha256()
            async with world.http.stream("GET", response.json()["fileUrl"]) as download:
                assert download.status_code == 200
                async for piece in download.aiter_bytes():
                    digest.update(piece)
        assert digest.hexdigest() == expected
        assert response.json()["fileSize"] == path.stat().st_size
        # Whole-file buffering anywhere (client, server, storage) would add >= 20 MiB.
        assert rss.growth_mib < 16, f"RSS grew {rss.growth_mib:.1f} MiB for a 20 MiB file"
        assert (await doctor.history(conversation))["messages"][0]["fileSize"] == 20 * MiB + 9
        print(f"{large_server.backend}: RSS grew {rss.growth_mib:.1f} MiB for 20 MiB")


@pytest.fixture(scope="module")
def redirecting_server(
    s3: S3Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    overrides = s3.settings(s3.new_bucket()) | {"s3_download_redirect": True}
    data_dir = tmp_path_factory.mktemp("medtalk-s3-redirect")
    with start_server(data_dir, "", backend="sqlite-s3", **overrides) as live:
        yield live


async def test_s3_downloads_redirect_to_presigned_urls_after_our_checks(
    redirecting_server: LiveServer,
) -> None:
    async with World(redirecting_server) as world:
        patient, doctor, conversation = await world.consultation()
        document = b"%PDF-1.4\nradiology report\n%%EOF\n"
        body = (
            await patient.post(
                "/api/v1/chat/messages/upload",
                data={"conversationId": conversation},
                files={"file": ("report.pdf", document, "application/pdf")},
            )
        ).json()
        redirect = await world.http.get(body["fileUrl"])
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith(redirecting_server.settings.s3_endpoint_url)
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=60" in location
        fetched = await world.http.get(location)
        assert fetched.status_code == 200 and fetched.content == document
        assert fetched.headers["content-disposition"].startswith("attachment")
        # Participants by token get a redirect too; strangers and old links get nothing.
        file_id = body["fileId"]
        assert (await doctor.get(f"/api/v1/chat/files/{file_id}")).status_code == 302
        stranger = await world.patient("Người lạ")
        refused = await stranger.get(f"/api/v1/chat/files/{file_id}")
        assert refused.status_code == 404 and "location" not in refused.headers
        past = int(time.time()) - 5
        signature = sign(redirecting_server.settings.link_secret, f"{file_id}:{past}")
        expired = await world.http.get(
            f"/api/v1/chat/files/{file_id}?expires={past}&sig={signature}"
        )
        assert expired.status_code == 404 and "location" not in expired.headers
