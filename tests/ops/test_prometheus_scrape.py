"""A real Prometheus (Debian's package) scrapes two medtalk nodes and loads our alert rules,
as docs/operations.md tells a newcomer to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from world import LiveServer, free_port, start_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    with (
        start_server(tmp_path / "node1", "", backend="sqlite") as one,
        start_server(tmp_path / "node2", "", backend="sqlite") as two,
    ):
        yield one, two


def query(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())["data"]


def test_prometheus_scrapes_both_nodes_and_loads_the_rules(
    two_nodes: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is required in CI (scripts/test-deps.sh installs it)")
        pytest.skip("prometheus is not installed (run scripts/test-deps.sh)")
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["rule_files"] = [str(ROOT / "deploy" / "prometheus" / "alerts.yml")]
    targets = [node.base_url.removeprefix("http://") for node in two_nodes]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = targets
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        scraped: set[str] = set()
        while time.monotonic() < deadline and len(scraped) < 2:
            time.sleep(0.5)  # a real Prometheus scrapes on its own schedule
            try:
                result = query(port, "/api/v1/query?query=medtalk_build_info")["result"]
            except OSError:
                continue
            scraped = {series["metric"]["instance"] for series in result}
        assert scraped == set(targets)
        up = query(port, "/api/v1/query?query=up")["result"]
        assert {series["value"][1] for series in up} == {"1"}
        groups = query(port, "/api/v1/rules")["groups"]
        names = {rule["name"] for group in groups for rule in group["rules"]}
        assert {"HighMessageLatency", "WebSocketConnectionDrop", "VideoCallFailure"} <= names
    finally:
        process.terminate()
        process.wait(timeout=20)
