"""JSON log lines carry the request context; secrets are masked whichever way they are logged."""

from __future__ import annotations

import io
import json
import logging

import pytest

from medtalk.core.logging import JsonFormatter, RedactingFilter, bind_context, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        (f"auth header bearer abc.def-ghi_{'x' * 20}", "abc.def-ghi_"),
        (f"token {JWT} in a sentence", JWT),
        ("GET /api/v1/chat/files/1?expires=99&sig=AbCdEf123_-x HTTP/1.1", "AbCdEf123_-x"),
        ("GET /socket.io/?EIO=4&token=s3cr3tvalue&transport=websocket", "s3cr3tvalue"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("connect postgresql://medtalk:hunter2@db:5432/medtalk", "hunter2"),
        ("turn credential=Zm9vYmFyYmF6 for user 1700000000:alice", "Zm9vYmFyYmF6"),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "REDACTED" in redact(text)


def test_redact_leaves_ordinary_text_alone() -> None:
    line = "GET /api/v1/chat/conversations/{conversation_id}/messages 200 latency_ms=3.1"
    assert redact(line) == line


def test_json_lines_carry_context_and_extra_fields_and_mask_args() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("medtalk.test_json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        bind_context(request_id="req-1", user_id="user-9")
        logger.info("got %s (%d)", f"/x?sig=abcdef&ok=1 Bearer {JWT}", 7, extra={"route": "/x"})
    finally:
        logger.removeHandler(handler)
        bind_context()
    line = json.loads(stream.getvalue())
    assert line["request_id"] == "req-1"
    assert line["user_id"] == "user-9"
    assert line["route"] == "/x"
    assert line["level"] == "INFO"
    assert JWT not in line["msg"] and "abcdef" not in line["msg"]
    assert line["msg"].endswith("(7)")
