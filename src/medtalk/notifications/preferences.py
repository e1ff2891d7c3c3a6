"""What a user wants to be told, and when not (quiet hours in their own time zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Preferences:
    push: bool = True
    email_digest: bool = False
    email: str | None = None
    quiet_start: str | None = None  # "22:00"
    quiet_end: str | None = None  # "07:00"
    time_zone: str = DEFAULT_TIME_ZONE

    def quiet_at(self, moment: datetime) -> bool:
        """Within the user's quiet hours (which may run past midnight)?"""
        if not (self.quiet_start and self.quiet_end):
            return False
        local = moment.astimezone(zone(self.time_zone)).time()
        return within(local, parse_hhmm(self.quiet_start), parse_hhmm(self.quiet_end))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def within(moment: time, start: time, end: time) -> bool:
    """start <= moment < end on a 24 h dial; a span past midnight wraps (22:00-07:00)."""
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end
