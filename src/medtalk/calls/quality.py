"""The spec's "Video Call Quality Score": 0-100 from client-reported WebRTC stats.

Defined in docs/calls.md. Each factor scores 0..1 against the spec's targets (1280x720 @ 30 fps,
1.5 Mbps video, < 150 ms latency, < 5% packet loss); the score is their weighted sum.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET_BITRATE_KBPS = 1500.0
TARGET_FPS = 30.0
TARGET_PIXELS = 1280 * 720
RTT_GOOD_MS = 150.0
RTT_BAD_MS = 600.0
LOSS_BAD_PCT = 5.0

WEIGHTS = {"loss": 30, "bitrate": 25, "rtt": 20, "fps": 15, "resolution": 10}


@dataclass(frozen=True)
class CallSample:
    bitrate_kbps: float
    packet_loss_pct: float
    rtt_ms: float
    frames_per_second: float
    width: int
    height: int


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def factors(sample: CallSample) -> dict[str, float]:
    """Each factor in 0..1 (1 = at or better than the spec's target)."""
    return {
        "loss": _clamp(1 - sample.packet_loss_pct / LOSS_BAD_PCT),
        "bitrate": _clamp(sample.bitrate_kbps / TARGET_BITRATE_KBPS),
        "rtt": _clamp(1 - (sample.rtt_ms - RTT_GOOD_MS) / (RTT_BAD_MS - RTT_GOOD_MS)),
        "fps": _clamp(sample.frames_per_second / TARGET_FPS),
        "resolution": _clamp(sample.width * sample.height / TARGET_PIXELS),
    }


def quality_score(sample: CallSample) -> int:
    """0 (unusable) to 100 (meets every target of the spec)."""
    parts = factors(sample)
    return round(sum(WEIGHTS[name] * value for name, value in parts.items()))
