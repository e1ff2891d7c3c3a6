"""REST for notifications: the VAPID public key, push subscriptions, preferences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from medtalk.api.deps import CurrentUser
from medtalk.notifications.schemas import (
    NotificationPreferences,
    PushSubscriptionIn,
    PushSubscriptionOut,
    PushUnsubscribe,
    VapidPublicKey,
)
from medtalk.notifications.service import NotificationService

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


def _notifications(request: Request) -> NotificationService:
    service: NotificationService = request.app.state.container.notifications
    return service


NotificationsDep = Annotated[NotificationService, Depends(_notifications)]


@router.get("/vapid-public-key", response_model=VapidPublicKey)
async def vapid_public_key(caller: CurrentUser, notifications: NotificationsDep) -> VapidPublicKey:
    """The key browsers subscribe with (404 if this deployment has no Web Push)."""
    return VapidPublicKey(public_key=notifications.vapid_public_key())


@router.post("/subscriptions", response_model=PushSubscriptionOut, status_code=201)
async def subscribe(
    body: PushSubscriptionIn, caller: CurrentUser, notifications: NotificationsDep
) -> PushSubscriptionOut:
    """Store this browser's push subscription (one per browser; a new owner takes it over)."""
    return await notifications.subscribe(caller, body)


@router.delete("/subscriptions", status_code=204)
async def unsubscribe(
    body: PushUnsubscribe, caller: CurrentUser, notifications: NotificationsDep
) -> Response:
    """Forget this browser's subscription (404 if the caller has none with that endpoint)."""
    await notifications.unsubscribe(caller, body.endpoint)
    return Response(status_code=204)


@router.get("/preferences", response_model=NotificationPreferences)
async def preferences(
    caller: CurrentUser, notifications: NotificationsDep
) -> NotificationPreferences:
    """The caller's choices (defaults: push on, email off, no quiet hours)."""
    return await notifications.preferences(caller)


@router.put("/preferences", response_model=NotificationPreferences)
async def set_preferences(
    body: NotificationPreferences, caller: CurrentUser, notifications: NotificationsDep
) -> NotificationPreferences:
    """Replace the caller's choices (`channels` is read only and ignored here)."""
    return await notifications.set_preferences(caller, body)
