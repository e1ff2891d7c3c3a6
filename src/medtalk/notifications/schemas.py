"""Wire models of notifications (camelCase on the wire)."""

from __future__ import annotations

import uuid

from pydantic import Field

from medtalk.core.wire import StrictWireModel, WireModel

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class SubscriptionKeys(StrictWireModel):
    p256dh: str = Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_\-=]+$")
    auth: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_\-=]+$")


class PushSubscriptionIn(StrictWireModel):
    """What the browser's `PushSubscription.toJSON()` gives (expirationTime is ignored)."""

    endpoint: str = Field(min_length=8, max_length=1000)
    keys: SubscriptionKeys
    expiration_time: int | None = None


class PushSubscriptionOut(WireModel):
    subscription_id: uuid.UUID


class PushUnsubscribe(StrictWireModel):
    endpoint: str = Field(min_length=8, max_length=1000)


class VapidPublicKey(WireModel):
    public_key: str = Field(description="the applicationServerKey for pushManager.subscribe")


class NotificationPreferences(StrictWireModel):
    push: bool = Field(True, description="Web Push to this user's browsers")
    email_digest: bool = Field(False, description="a plain-text digest email (no content)")
    email: str | None = Field(
        None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="digest address"
    )
    quiet_start: str | None = Field(None, pattern=HHMM, description="no pushes from, e.g. 22:00")
    quiet_end: str | None = Field(None, pattern=HHMM, description="until, e.g. 07:00")
    time_zone: str = Field("Asia/Ho_Chi_Minh", max_length=64, description="of the quiet hours")
    channels: list[str] = Field(
        [], description="read only: the channels this deployment has (webpush, email, ...)"
    )
