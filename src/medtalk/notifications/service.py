"""Per-user notification settings: push subscriptions (one per browser) and preferences."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import available_timezones

from medtalk.core.auth import Principal
from medtalk.core.clock import Clock
from medtalk.core.errors import Invalid, NotFound
from medtalk.db.engine import Database
from medtalk.notifications import store
from medtalk.notifications.preferences import Preferences
from medtalk.notifications.schemas import (
    NotificationPreferences,
    PushSubscriptionIn,
    PushSubscriptionOut,
)
from medtalk.notifications.webpush import PushTarget

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class NotificationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        channels: list[str],
        vapid_public_key: str | None,
        push_hosts: list[str],
    ) -> None:
        self._db = db
        self._clock = clock
        self._channels = channels
        self._vapid_public_key = vapid_public_key
        self._push_hosts = push_hosts

    def vapid_public_key(self) -> str:
        if self._vapid_public_key is None:
            raise NotFound("Web Push is not enabled here")
        return self._vapid_public_key

    async def subscribe(self, caller: Principal, body: PushSubscriptionIn) -> PushSubscriptionOut:
        """Store this browser's push subscription for the caller."""
        self.vapid_public_key()
        self._check_endpoint(body.endpoint)
        target = PushTarget(body.endpoint, body.keys.p256dh, body.keys.auth)
        async with self._db.transaction() as db:
            subscription_id = await store.save_subscription(
                db, caller.user_id, target, self._clock.now()
            )
        return PushSubscriptionOut(subscription_id=subscription_id)

    async def unsubscribe(self, caller: Principal, endpoint: str) -> None:
        async with self._db.transaction() as db:
            if not await store.delete_subscription(db, caller.user_id, endpoint):
                raise NotFound("no such subscription")

    def _check_endpoint(self, endpoint: str) -> None:
        """Pushes go only to the push services configured (never to any URL a client names:
        that would make this server a request forwarder)."""
        url = urlsplit(endpoint)
        host = (url.hostname or "").lower()
        allowed = any(host == want or host.endswith("." + want) for want in self._push_hosts)
        # Plain http only to a loopback push service listed by name (a test's own).
        loopback = host in LOOPBACK and host in self._push_hosts and url.scheme == "http"
        if not allowed or (url.scheme != "https" and not loopback):
            raise Invalid("this push service is not allowed here")

    async def preferences(self, caller: Principal) -> NotificationPreferences:
        async with self._db.read() as db:
            found = await store.preferences(db, caller.user_id)
        return NotificationPreferences(
            push=found.push,
            email_digest=found.email_digest,
            email=found.email,
            quiet_start=found.quiet_start,
            quiet_end=found.quiet_end,
            time_zone=found.time_zone,
            channels=self._channels,
        )

    async def set_preferences(
        self, caller: Principal, wanted: NotificationPreferences
    ) -> NotificationPreferences:
        if wanted.time_zone not in _time_zones():
            raise Invalid("unknown time zone")
        if (wanted.quiet_start is None) != (wanted.quiet_end is None):
            raise Invalid("quiet hours need a start and an end")
        if wanted.email_digest and not wanted.email:
            raise Invalid("an email digest needs an email address")
        saved = Preferences(
            push=wanted.push,
            email_digest=wanted.email_digest,
            email=wanted.email,
            quiet_start=wanted.quiet_start,
            quiet_end=wanted.quiet_end,
            time_zone=wanted.time_zone,
        )
        async with self._db.transaction() as db:
            await store.save_preferences(db, caller.user_id, saved, self._clock.now())
        return await self.preferences(caller)


_ZONES: set[str] = set()


def _time_zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones() | {"UTC"})
    return _ZONES
