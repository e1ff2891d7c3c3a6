"""The recording functions other features call move their metrics; multiprocess mode sums."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import REGISTRY

from medtalk.core import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_call_functions_move_call_metrics() -> None:
    before_active = value("medtalk_video_calls_active", provider="jitsi")
    before_attempts = value("medtalk_call_setup_attempts_total", provider="jitsi")
    metrics.call_setup_attempted("jitsi")
    metrics.call_setup_attempted("jitsi")
    metrics.call_unanswered("jitsi", "declined")
    metrics.call_failed("jitsi", "ice_failed")
    metrics.call_started("jitsi")
    assert value("medtalk_video_calls_active", provider="jitsi") == before_active + 1
    assert value("medtalk_call_setup_attempts_total", provider="jitsi") == before_attempts + 2
    assert value("medtalk_calls_unanswered_total", provider="jitsi", reason="declined") >= 1
    assert value("medtalk_video_call_failures_total", provider="jitsi", reason="ice_failed") >= 1
    metrics.call_ended("jitsi", duration_seconds=1850)
    assert value("medtalk_video_calls_active", provider="jitsi") == before_active
    assert value("medtalk_call_duration_seconds_count", provider="jitsi") >= 1


def test_call_quality_is_observed_and_clamped_to_0_100() -> None:
    before = value("medtalk_call_quality_score_count")
    before_low = value("medtalk_call_quality_score_bucket", le="10.0")
    metrics.call_quality(-5)
    metrics.call_quality(88)
    assert value("medtalk_call_quality_score_count") == before + 2
    assert value("medtalk_call_quality_score_bucket", le="10.0") == before_low + 1


def test_limit_and_job_functions_move_their_metrics() -> None:
    before = value("medtalk_rate_limited_total", limit="messages-per-minute")
    metrics.limit_hit("messages-per-minute")
    assert value("medtalk_rate_limited_total", limit="messages-per-minute") == before + 1

    metrics.set_job_queue_depth("notifications", 7)
    assert value("medtalk_job_queue_depth", queue="notifications") == 7
    retries = value("medtalk_job_retries_total", queue="notifications")
    dead = value("medtalk_job_dead_letters_total", queue="notifications")
    metrics.job_retried("notifications")
    metrics.job_dead_lettered("notifications")
    metrics.job_finished("notifications", "failed")
    assert value("medtalk_job_retries_total", queue="notifications") == retries + 1
    assert value("medtalk_job_dead_letters_total", queue="notifications") == dead + 1
    assert value("medtalk_jobs_processed_total", queue="notifications", outcome="failed") >= 1


def test_a_slow_delivery_is_delivered_but_not_within_one_second() -> None:
    now = datetime.now(UTC)
    within = value("medtalk_messages_delivered_within_1s_total")
    delivered = value("medtalk_messages_delivered_total")
    metrics.message_delivered((now - timedelta(seconds=3)).isoformat(), now=now)
    metrics.message_delivered(now - timedelta(milliseconds=40), now=now)
    assert value("medtalk_messages_delivered_total") == delivered + 2
    assert value("medtalk_messages_delivered_within_1s_total") == within + 1


def test_upload_outcomes_from_status() -> None:
    assert metrics.upload_outcome(201) == "accepted"
    assert metrics.upload_outcome(413) == "too_large"
    assert metrics.upload_outcome(415) == "unsupported"
    assert metrics.upload_outcome(503) == "error"


def test_every_metric_is_prefixed_and_listed() -> None:
    names = metrics.sample_names()
    assert all(name.startswith("medtalk_") for name in names)
    assert "medtalk_message_delivery_seconds_bucket" in names
    assert "medtalk_messages_delivered_within_1s_total" in names


CHILD = """
import sys
from medtalk.core import metrics
metrics.message_sent("TEXT")
metrics.socket_connected()
if sys.argv[1] == "stops":
    metrics.process_stopped()
"""

RENDER = """
from medtalk.core import metrics
print(metrics.render().decode())
"""


def test_multiprocess_mode_adds_up_the_processes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for how in ("stops", "keeps"):
        subprocess.run([sys.executable, "-c", CHILD, how], env=env, check=True, timeout=60)
    scrape = subprocess.run(
        [sys.executable, "-c", RENDER], env=env, check=True, timeout=60, capture_output=True
    ).stdout.decode()
    assert 'medtalk_messages_sent_total{content_type="TEXT"} 2.0' in scrape
    # Connections are a "livesum" gauge: a process that stopped no longer counts.
    assert "medtalk_websocket_connections 1.0" in scrape
