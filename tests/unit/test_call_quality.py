"""The call quality score (docs/calls.md) and the video-call settings."""

from __future__ import annotations

import pytest

from medtalk.calls.quality import CallSample, quality_score
from medtalk.settings import Settings
from world import PRODUCTION_SECRETS

PERFECT = CallSample(1500, 0, 40, 30, 1280, 720)


def _with(**changes: float) -> CallSample:
    return CallSample(**{**PERFECT.__dict__, **changes})


def test_meeting_every_spec_target_scores_100_and_nothing_scores_0() -> None:
    assert quality_score(PERFECT) == 100
    assert (
        quality_score(_with(bitrate_kbps=3000, frames_per_second=60, width=1920, height=1080))
        == 100
    )
    assert quality_score(CallSample(0, 100, 5000, 0, 0, 0)) == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"packet_loss_pct": 5}, 70),  # loss weighs 30: 5% is the spec's limit
        ({"packet_loss_pct": 2.5}, 85),
        ({"bitrate_kbps": 750}, 88),  # bitrate weighs 25 (87.5 rounds to 88)
        ({"rtt_ms": 150}, 100),  # the spec's latency target is still full marks
        ({"rtt_ms": 600}, 80),  # rtt weighs 20
        ({"frames_per_second": 15}, 92),  # fps weighs 15 (92.5 rounds half to even)
        ({"width": 640, "height": 360}, 92),  # resolution weighs 10 (a quarter of the pixels)
    ],
)
def test_each_factor_costs_its_documented_weight(change: dict[str, float], expected: int) -> None:
    assert quality_score(_with(**change)) == expected


def test_more_packet_loss_never_raises_the_score() -> None:
    scores = [quality_score(_with(packet_loss_pct=loss)) for loss in (0, 1, 2, 4, 8, 50)]
    assert scores == sorted(scores, reverse=True)


def test_production_refuses_the_dev_room_token_secret() -> None:
    production = {k: v for k, v in PRODUCTION_SECRETS.items() if k != "room_token_secret"}
    with pytest.raises(ValueError, match="ROOM_TOKEN_SECRET"):
        Settings(**production)
    Settings(**production, room_token_secret="a-real-room-secret-0123456789abcdef")


def test_ice_server_lists_accept_commas_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDTALK_TURN_URLS", "turn:a:3478?transport=udp, turns:a:5349")
    monkeypatch.setenv("MEDTALK_STUN_URLS", '["stun:a:3478"]')
    settings = Settings()
    assert settings.turn_urls == ["turn:a:3478?transport=udp", "turns:a:5349"]
    assert settings.stun_urls == ["stun:a:3478"]
