"""Structured JSON logs (standard library only) with request context and secret redaction.

`configure_logging(settings)` is called once by the CLI. Every line is one JSON object:
`ts, level, logger, msg`, the request context (`request_id`, `user_id`) and any `extra=` fields
(`route`, `status`, `latency_ms`, ...). What must never reach a log line: message content, file
names, tokens, signatures, TURN secrets. Code simply does not log content or file names; as a
safety net for credentials, `redact` masks bearer tokens, JWT-shaped strings and secret query
values in every record, whichever library logs it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

# Per request (or per socket event): request_id and user_id; a dict so code deeper in the
# call chain (the auth dependency) can fill in user_id for the middleware's access line.
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "medtalk_log_context", default=None
)

_SECRET_QUERY_KEYS = (
    "token|access_token|sig|signature|credential|password|secret|api_key|apikey|key|jwt|auth"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?"), "[REDACTED]"),
    (
        re.compile(rf"(?i)([?&;\s]|^)((?:{_SECRET_QUERY_KEYS})=)[^&\s\"'#;]+"),
        r"\1\2[REDACTED]",
    ),
    (
        re.compile(
            r"(?i)(['\"]?authorization['\"]?\s*[:=]\s*['\"]?)(?!Bearer \[REDACTED)[^'\",}\n]+"
        ),
        r"\1[REDACTED]",
    ),
    (re.compile(r"(?i)(://[^:/@\s]+:)[^@/\s]+@"), r"\1[REDACTED]@"),
)

# Libraries whose DEBUG/INFO lines carry the data itself (SQL parameters, multipart fields):
# capped at WARNING whatever the root level, since that data includes content and file names.
DATA_LOGGERS = (
    "aiosqlite",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "multipart",
    "python_multipart",
)

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn: the same message with terminal colours
}


def redact(text: str) -> str:
    """Mask bearer tokens, JWTs, secret query values, Authorization values, URL passwords."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place, keeping the shape of `args` for formatters that unpack them."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}


def _redact_arg(arg: object) -> object:
    # Numbers stay numbers (for %d); anything else (URLs, headers, ...) is logged as its str.
    if arg is None or isinstance(arg, int | float | bool):
        return arg
    return redact(arg if isinstance(arg, str) else str(arg))


class RedactingFilter(logging.Filter):
    """A handler or logger filter that redacts each record (and never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def bind_context(**fields: str) -> dict[str, str]:
    """Start a fresh log context (one request or socket event); returns it for updates."""
    context = dict(fields)
    _context.set(context)
    return context


def update_context(**fields: str) -> None:
    """Add fields (e.g. user_id) to the current request's context, if there is one."""
    context = _context.get()
    if context is not None:
        context.update(fields)


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per line; exception text is redacted like the message."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        line.update(_context.get() or {})
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={v}" for k, v in (_context.get() or {}).items())
        return redact(super().format(record) + (f" [{context}]" if context else ""))


_previous_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    redact_record(record)
    return record


def configure_logging(
    level: str = "INFO", fmt: str = "json", stream: IO[str] | None = None
) -> None:
    """Send every logger's records, redacted, to one stream (stderr) as JSON (or text)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Records handled by any other handler (uvicorn's own, pytest's) are redacted at creation.
    logging.setLogRecordFactory(_redacting_factory)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in DATA_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
