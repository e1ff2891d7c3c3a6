"""Offline notifications: tell a participant a message is waiting (never what it says).

The backends live in the `medtalk.notifications` package (docs/notifications.md); this module
keeps the names the jobs import. `create_notifier` without a database gives the direct
backends (log, webhook) for callers that cannot write jobs.
"""

from __future__ import annotations

from medtalk.notifications.notifier import LogNotifier, Notifier
from medtalk.notifications.webhook import WebhookFailed, WebhookNotifier
from medtalk.settings import Settings

__all__ = ["LogNotifier", "Notifier", "WebhookFailed", "WebhookNotifier", "create_notifier"]


def create_notifier(settings: Settings) -> Notifier:
    if "webhook" in settings.notifier and settings.notify_webhook_url:
        return WebhookNotifier(settings.notify_webhook_url, settings.notify_webhook_secret)
    return LogNotifier()
