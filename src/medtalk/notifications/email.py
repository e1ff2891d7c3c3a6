"""Email through SMTP (aiosmtplib): digests for users who opted in, and escalations.

Plain text only, and never message content: counts, a link, a conversation id and a wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str
    password: str
    tls: str  # "starttls", "tls" or "none"
    sender: str


class EmailFailed(RuntimeError):
    """The SMTP server was unreachable or refused (the job is retried)."""


class Mailer:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, to: str, subject: str, body: str, *, message_id: str) -> None:
        """One plain-text email. `message_id` names it, so a repeat is recognisable."""
        config = self._config
        message = EmailMessage()
        message["From"] = config.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = f"<{message_id}@medtalk>"
        message.set_content(body)
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username or None,
                password=config.password or None,
                use_tls=config.tls == "tls",
                start_tls=config.tls == "starttls",
                timeout=20,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise EmailFailed(type(exc).__name__) from None
