"""Reaching people who are away (issue 18): Web Push, the signed webhook, email digests,
clinician escalation, and each user's preferences. docs/notifications.md tells the whole story.

    notifier.py   the Notifier interface (+ the log backend)
    webhook.py    webpush.py (+ vapid.py)    email.py      one short module per backend
    dispatch.py   one `deliver_notification` job per channel; call and recording signals
    delivery.py   that job; digest.py, escalation.py   the other job kinds (+ the sweep)
    service.py    routes.py   schemas.py   store.py   subscriptions and preferences
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from medtalk.core.clock import Clock
from medtalk.core.crypto import KeyRing
from medtalk.db.engine import Database
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.registry import JobKind, Sweep
from medtalk.notifications import delivery, digest, escalation
from medtalk.notifications.dispatch import CallSignals, ChannelNotifier
from medtalk.notifications.email import Mailer, SmtpConfig
from medtalk.notifications.notifier import LogNotifier, Notification, Notifier
from medtalk.notifications.service import NotificationService
from medtalk.notifications.vapid import DEV_SUBJECT, load_vapid_keys
from medtalk.notifications.webhook import WebhookFailed, WebhookNotifier
from medtalk.notifications.webpush import WebPushSender
from medtalk.settings import Settings

__all__ = [
    "CallSignals",
    "LogNotifier",
    "Notification",
    "Notifications",
    "Notifier",
    "WebhookFailed",
    "WebhookNotifier",
    "build_notifications",
]

logger = logging.getLogger(__name__)


@dataclass
class Notifications:
    """What a process needs of notifications, built once by the container."""

    service: NotificationService
    notifier: ChannelNotifier
    signals: CallSignals
    kinds: list[JobKind] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)


def build_notifications(
    settings: Settings, db: Database, clock: Clock, outbox: JobOutbox, keys: KeyRing
) -> Notifications:
    """The backends configuration asks for (MEDTALK_NOTIFIER), their jobs and the sweep."""
    channels: list[str] = list(settings.notifier)
    webpush = _webpush(settings, clock) if "webpush" in channels else None
    webhook = (
        WebhookNotifier(settings.notify_webhook_url, settings.notify_webhook_secret)
        if "webhook" in channels and settings.notify_webhook_url
        else None
    )
    mailer = _mailer(settings)
    closers: list[Callable[[], Awaitable[None]]] = []
    for backend in (webhook, webpush):
        if backend is not None:
            closers.append(backend.close)
    notifier = ChannelNotifier(db, outbox, channels, closers=closers)
    deliveries = delivery.Delivery(
        db,
        clock,
        outbox,
        webpush=webpush,
        webhook=webhook,
        digest_window=timedelta(minutes=settings.email_digest_minutes),
        previews=keys if settings.push_previews else None,
    )
    kinds = [delivery.kind(deliveries)]
    if mailer is not None:
        kinds.append(digest.kind(digest.Digests(db, clock, mailer, settings.public_url)))
    escalations = escalation.Escalation(
        db,
        clock,
        outbox,
        escalation.EscalationPolicy.parse(
            settings.escalation_after_minutes,
            settings.escalation_clinic_hours,
            settings.escalation_time_zone,
        ),
        webhook=_on_call_webhook(settings, closers),
        mailer=mailer,
        on_call_email=settings.escalation_email,
    )
    kinds.append(escalation.kind(escalations))
    service = NotificationService(
        db,
        clock,
        channels=channels,
        vapid_public_key=webpush.public_key if webpush else None,
        push_hosts=[host.lower() for host in settings.push_service_hosts],
    )
    return Notifications(
        service=service,
        notifier=notifier,
        signals=CallSignals(db, clock, notifier),
        kinds=kinds,
        sweeps=[escalation.sweep(escalations, settings.escalation_sweep_seconds)],
    )


def _webpush(settings: Settings, clock: Clock) -> WebPushSender:
    keys = load_vapid_keys(
        settings.vapid_private_key, settings.data_dir, dev=settings.mode == "dev"
    )
    return WebPushSender(
        keys, settings.vapid_subject or DEV_SUBJECT, clock, ttl_seconds=settings.push_ttl_seconds
    )


def _mailer(settings: Settings) -> Mailer | None:
    if not (settings.smtp_host and settings.mail_from):
        return None
    return Mailer(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            tls=settings.smtp_tls,
            sender=settings.mail_from,
        )
    )


def _on_call_webhook(
    settings: Settings, closers: list[Callable[[], Awaitable[None]]]
) -> WebhookNotifier | None:
    if not settings.escalation_webhook_url:
        return None
    webhook = WebhookNotifier(settings.escalation_webhook_url, settings.notify_webhook_secret)
    closers.append(webhook.close)
    return webhook
