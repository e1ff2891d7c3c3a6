"""Every Prometheus metric medtalk exports, defined in this one module (names `medtalk_*`).

Features record through the small functions below (`metrics.message_sent("TEXT")`,
`metrics.call_started("p2p")`, ...) rather than touching the metric objects, so names, labels
and buckets stay in one place. `render()` produces the text exposition served at `/metrics`.

Several worker processes per host: set PROMETHEUS_MULTIPROC_DIR to an empty directory (wiped
before start) for every process; prometheus_client then keeps values in shared files there and
`render()` aggregates them (gauges per `multiprocess_mode` below). Without it, values live in
this process's memory. docs/operations.md lists every metric and the PromQL that reads it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from medtalk import __version__

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The *_created series would only double the size of a scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Send-to-deliver latency: the spec wants < 100 ms, measures "within 1 s", alerts past 2 s.
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUALITY_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
CALL_DURATION_BUCKETS = (60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400)

# --- chat ---------------------------------------------------------------------------------

messages_sent = Counter(
    "medtalk_messages_sent",
    "Messages stored (a retried clientMessageId counts once)",
    ["content_type"],
)
messages_failed = Counter(
    "medtalk_messages_failed",
    "Sends refused or failed, and live deliveries that failed",
    ["reason"],
)
messages_delivered = Counter(
    "medtalk_messages_delivered", "Live messages emitted to a socket (one per receiving socket)"
)
messages_delivered_within_1s = Counter(
    "medtalk_messages_delivered_within_1s",
    "Live messages emitted to a socket within 1 s of sentAt (spec: Message Delivery Rate)",
)
messages_replayed = Counter(
    "medtalk_messages_replayed", "Missed messages sent to a socket on join (catch-up, not live)"
)
message_delivery_seconds = Histogram(
    "medtalk_message_delivery_seconds",
    "Time from a message's sentAt to its emission to a receiving socket (live deliveries)",
    buckets=DELIVERY_BUCKETS,
)
active_conversations = Gauge(
    "medtalk_active_conversations",
    "Conversations with a message in the last MEDTALK_ACTIVE_CONVERSATION_WINDOW_MINUTES "
    "(read from the database: every node reports the cluster-wide count, use max())",
    multiprocess_mode="livemax",
)

# --- sockets ------------------------------------------------------------------------------

websocket_connections = Gauge(
    "medtalk_websocket_connections",
    "Authenticated Socket.IO connections open on this node",
    multiprocess_mode="livesum",
)
websocket_connects = Counter(
    "medtalk_websocket_connects", "Socket.IO connections accepted or refused", ["outcome"]
)
websocket_drops = Counter(
    "medtalk_websocket_drops",
    "Connections that ended without the client asking (transport close, ping timeout, ...)",
    ["reason"],
)
socket_event_seconds = Histogram(
    "medtalk_socket_event_seconds",
    "Time to handle one Socket.IO event, by event and outcome (ok or error code)",
    ["event", "outcome"],
    buckets=HTTP_BUCKETS,
)

# --- HTTP and errors ----------------------------------------------------------------------

http_request_seconds = Histogram(
    "medtalk_http_request_seconds",
    "HTTP request latency by method, route template and status",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
)
errors = Counter(
    "medtalk_errors",
    "Errors answered to clients, by edge (http, socket) and error code",
    ["edge", "code"],
)
file_uploads = Counter(
    "medtalk_file_uploads",
    "Upload attempts by outcome (accepted, too_large, unsupported, invalid, refused, "
    "rate_limited, infected, error)",
    ["outcome"],
)
file_scans = Counter(
    "medtalk_file_scans", "Malware scans by result (clean, infected, error)", ["result"]
)
rate_limited = Counter(
    "medtalk_rate_limited", "Requests refused by a rate limit, by limit name", ["limit"]
)

# --- video calls --------------------------------------------------------------------------

video_calls_active = Gauge(
    "medtalk_video_calls_active",
    "Concurrent video calls (started minus ended on this node; sum() across nodes)",
    ["provider"],
    multiprocess_mode="livesum",
)
call_setup_attempts = Counter(
    "medtalk_call_setup_attempts", "Video calls placed (rooms created)", ["provider"]
)
# Not failures: the other side never came in (reason unanswered | declined | cancelled).
calls_unanswered = Counter(
    "medtalk_calls_unanswered",
    "Calls that ended before both sides joined, by reason",
    ["provider", "reason"],
)
# Failures after both joined, as the clients report them (ICE, TURN relay, camera/microphone).
video_call_failures = Counter(
    "medtalk_video_call_failures",
    "Started calls whose media failed, reported by a participant",
    ["provider", "reason"],
)
calls_started = Counter("medtalk_calls_started", "Video calls that went IN_PROGRESS", ["provider"])
call_duration_seconds = Histogram(
    "medtalk_call_duration_seconds",
    "Length of ended video calls",
    ["provider"],
    buckets=CALL_DURATION_BUCKETS,
)
call_quality_score = Histogram(
    "medtalk_call_quality_score",
    "Video Call Quality Score (0-100, from bitrate, latency and packet loss in client stats)",
    buckets=QUALITY_BUCKETS,
)

# --- jobs ---------------------------------------------------------------------------------

job_queue_depth = Gauge(
    "medtalk_job_queue_depth", "Jobs waiting in a queue", ["queue"], multiprocess_mode="livemax"
)
jobs_processed = Counter(
    "medtalk_jobs_processed", "Jobs finished by a worker, by outcome", ["queue", "outcome"]
)
job_retries = Counter("medtalk_job_retries", "Jobs scheduled for another attempt", ["queue"])
job_dead_letters = Counter(
    "medtalk_job_dead_letters", "Jobs given up and moved to the dead-letter queue", ["queue"]
)

# --- notifications (issue 18) ------------------------------------------------------------

# Set by each node's escalation sweep from the database (every node sees the same rows: read
# it with max(), not sum()).
unanswered_patient_messages = Gauge(
    "medtalk_unanswered_patient_messages",
    "Patient messages the doctor has not read, in ACTIVE conversations, by how long they wait",
    ["age"],
    multiprocess_mode="livemax",
)

# --- dependencies and the process ---------------------------------------------------------

dependency_up = Gauge(
    "medtalk_dependency_up",
    "1 when the last readiness check of a dependency passed, else 0",
    ["dependency"],
    multiprocess_mode="livemin",
)
dependency_check_seconds = Gauge(
    "medtalk_dependency_check_seconds",
    "Duration of the last readiness check of a dependency",
    ["dependency"],
    multiprocess_mode="livemax",
)
build_info = Gauge(
    "medtalk_build_info",
    "Always 1; the version label says what runs",
    ["version"],
    multiprocess_mode="livemax",
)
build_info.labels(version=__version__).set(1)

ALL = (
    messages_sent, messages_failed, messages_delivered, messages_delivered_within_1s,
    messages_replayed, message_delivery_seconds, active_conversations,
    websocket_connections, websocket_connects, websocket_drops, socket_event_seconds,
    http_request_seconds, errors, file_uploads, file_scans, rate_limited,
    video_calls_active, call_setup_attempts, calls_unanswered, video_call_failures, calls_started,
    call_duration_seconds, call_quality_score,
    job_queue_depth, jobs_processed, job_retries, job_dead_letters,
    unanswered_patient_messages,
    dependency_up, dependency_check_seconds, build_info,
)  # fmt: skip


# --- recording: chat ----------------------------------------------------------------------


def message_sent(content_type: str) -> None:
    messages_sent.labels(content_type=content_type).inc()


def message_failed(reason: str) -> None:
    """A send refused or failed (reason: an error code) or a delivery that raised."""
    messages_failed.labels(reason=reason).inc()


def message_delivered(sent_at: str | datetime | None, now: datetime | None = None) -> None:
    """A live message reached a socket; `sent_at` (the wire `sentAt`) gives its latency."""
    messages_delivered.inc()
    moment = _as_datetime(sent_at)
    if moment is None:
        return
    latency = max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())
    message_delivery_seconds.observe(latency)
    if latency <= 1.0:
        messages_delivered_within_1s.inc()


def message_replayed() -> None:
    messages_replayed.inc()


def set_active_conversations(count: int) -> None:
    active_conversations.set(count)


def set_unanswered_patient_messages(by_age: dict[str, int]) -> None:
    for age, count in by_age.items():
        unanswered_patient_messages.labels(age=age).set(count)


# --- recording: sockets -------------------------------------------------------------------


def socket_connected() -> None:
    websocket_connects.labels(outcome="accepted").inc()
    websocket_connections.inc()


def socket_refused() -> None:
    websocket_connects.labels(outcome="refused").inc()


def socket_disconnected(reason: str | None) -> None:
    """A connection ended; anything but the client's own disconnect counts as a drop."""
    websocket_connections.dec()
    if reason != "client disconnect":
        websocket_drops.labels(reason=(reason or "unknown").replace(" ", "_")).inc()


@contextmanager
def socket_event(event: str) -> Iterator[dict[str, str]]:
    """Time one Socket.IO event; the handler sets `outcome["outcome"]` to its error code."""
    outcome = {"outcome": "ok"}
    started = time.perf_counter()
    try:
        yield outcome
    finally:
        socket_event_seconds.labels(event=event, outcome=outcome["outcome"]).observe(
            time.perf_counter() - started
        )


# --- recording: HTTP, errors, files, limits -----------------------------------------------


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    http_request_seconds.labels(method=method, route=route, status=str(status)).observe(seconds)


def error(edge: str, code: str) -> None:
    errors.labels(edge=edge, code=code).inc()


def upload_finished(outcome: str) -> None:
    file_uploads.labels(outcome=outcome).inc()


def upload_outcome(status: int) -> str:
    """The upload outcome an HTTP status stands for (the files feature may say `infected`)."""
    return _UPLOAD_OUTCOMES.get(status, "accepted" if status < 300 else "error")


_UPLOAD_OUTCOMES = {
    401: "refused", 403: "refused", 404: "refused", 413: "too_large", 415: "unsupported",
    400: "invalid", 422: "invalid", 429: "rate_limited",
}  # fmt: skip


def file_scanned(result: str) -> None:
    file_scans.labels(result=result).inc()


def limit_hit(limit: str) -> None:
    """A request was refused by the rate limit named `limit` (e.g. messages-per-minute)."""
    rate_limited.labels(limit=limit).inc()


# --- recording: video calls (used by calls/) ----------------------------------------------


def call_setup_attempted(provider: str) -> None:
    call_setup_attempts.labels(provider=provider).inc()


def call_unanswered(provider: str, reason: str) -> None:
    """A call ended before both joined: `unanswered`, `declined` or `cancelled` (by the caller)."""
    calls_unanswered.labels(provider=provider, reason=reason).inc()


def call_failed(provider: str, reason: str) -> None:
    """A participant's media failed after joining (`ice_failed`, `turn_failed`, `media_failed`)."""
    video_call_failures.labels(provider=provider, reason=reason).inc()


def call_started(provider: str = "p2p") -> None:
    calls_started.labels(provider=provider).inc()
    video_calls_active.labels(provider=provider).inc()


def call_ended(provider: str = "p2p", duration_seconds: float | None = None) -> None:
    video_calls_active.labels(provider=provider).dec()
    if duration_seconds is not None:
        call_duration_seconds.labels(provider=provider).observe(duration_seconds)


def call_quality(score: float) -> None:
    """Record one Video Call Quality Score (0-100; defined in calls/quality.py)."""
    call_quality_score.observe(min(100.0, max(0.0, score)))


# --- recording: jobs (used by jobs/) ------------------------------------------------------


def set_job_queue_depth(queue: str, depth: int) -> None:
    job_queue_depth.labels(queue=queue).set(depth)


def job_finished(queue: str, outcome: str = "done") -> None:
    jobs_processed.labels(queue=queue, outcome=outcome).inc()


def job_retried(queue: str) -> None:
    job_retries.labels(queue=queue).inc()


def job_dead_lettered(queue: str) -> None:
    job_dead_letters.labels(queue=queue).inc()


# --- recording: dependencies --------------------------------------------------------------


def dependency_checked(dependency: str, up: bool, seconds: float) -> None:
    dependency_up.labels(dependency=dependency).set(1 if up else 0)
    dependency_check_seconds.labels(dependency=dependency).set(seconds)


# --- exposition ---------------------------------------------------------------------------


def render() -> bytes:
    """The text exposition of every metric (aggregated over processes in multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_stopped() -> None:
    """In multiprocess mode, drop this process's live gauges (call when a worker exits)."""
    if os.environ.get(MULTIPROC_ENV):
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def sample_names() -> set[str]:
    """Every series name these metrics can expose (for checks of dashboards and alert rules)."""
    suffixes = {
        "counter": ("_total",),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum"),
    }
    names: set[str] = set()
    for metric in ALL:
        for family in metric.describe():
            names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def _as_datetime(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
