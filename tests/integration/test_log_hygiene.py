"""No log line carries message content, file names, tokens or link signatures.

A whole flow runs against a server logging at DEBUG (medtalk, uvicorn, uvicorn's access log,
every library), through the production logging setup (`configure_logging`, JSON) and through
pytest's own capture; planted strings must appear in neither.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_files import png_bytes, upload

from medtalk.core.logging import configure_logging
from world import LiveServer, World, start_server


@pytest.fixture
def logged_server(tmp_path: Path) -> Iterator[tuple[LiveServer, io.StringIO]]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogRecordFactory())
    uvicorn_saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    output = io.StringIO()
    configure_logging("DEBUG", "json", stream=output)
    options = {"log_config": None, "log_level": "debug", "access_log": True}
    try:
        with start_server(
            tmp_path, "", backend="sqlite", log_level="DEBUG", uvicorn_options=options
        ) as live:
            yield live, output
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved[2])
        for name, (handlers, propagate) in uvicorn_saved.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate


async def test_a_whole_flow_logs_no_content_file_name_or_secret(
    logged_server: tuple[LiveServer, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    live, output = logged_server
    for name in ("medtalk", "uvicorn", "uvicorn.error", "uvicorn.access", ""):
        caplog.set_level(logging.DEBUG, logger=name)
    marker = uuid.uuid4().hex[:10]
    content = f"PLANTED-CONTENT-{marker} tôi bị đau ngực"
    file_name = f"PLANTED-FILE-{marker}.png"

    async with World(live) as world:
        patient, doctor, conversation = await world.consultation()
        doctor_socket = await doctor.connects()
        await doctor_socket.join(conversation)
        await patient.sends(conversation, content)
        patient_socket = await patient.connects()
        answer = await patient_socket.call(
            "send_message", {"conversationId": conversation, "content": content + " (socket)"}
        )
        assert "messageId" in answer
        too_long = content * 1000
        refused = await patient.post(
            "/api/v1/chat/messages/send",
            json={"conversationId": conversation, "content": too_long, "contentType": "TEXT"},
        )
        assert refused.status_code == 422
        uploaded = await upload(patient, conversation, file_name, png_bytes())
        assert uploaded.status_code == 201, uploaded.text
        link = uploaded.json()["fileUrl"]
        signature = httpx.URL(link).params["sig"]
        assert (await world.http.get(link)).status_code == 200
        # A token in a query string and a forged bearer header: both must be masked.
        await world.http.get(f"/api/v1/chat/conversations?token={patient.token}")
        forged = {"Authorization": f"Bearer {doctor.token}x"}
        assert (
            await world.http.get("/api/v1/chat/conversations", headers=forged)
        ).status_code == 401
        await doctor_socket.events.next("message_received")

    secrets = {
        "content": f"PLANTED-CONTENT-{marker}",
        "file name": f"PLANTED-FILE-{marker}",
        "patient token": patient.token,
        "doctor token": doctor.token,
        "token signature part": patient.token.rsplit(".", 1)[1],
        "link signature": signature,
    }
    written = output.getvalue()
    captured = caplog.text
    for what, secret in secrets.items():
        assert secret not in written, f"{what} in the JSON log output"
        assert secret not in captured, f"{what} in captured log records"

    # The logs are really there: JSON lines with the request context, the access log too.
    lines = [json.loads(line) for line in written.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "medtalk.access"]
    assert any(
        line["route"] == "/api/v1/chat/conversations/{conversation_id}/messages"
        or line["route"] == "/api/v1/chat/messages/send"
        for line in access
    )
    sent = [line for line in access if line["route"] == "/api/v1/chat/messages/send"]
    assert sent and all({"request_id", "status", "latency_ms"} <= line.keys() for line in sent)
    assert any(line.get("user_id") == str(patient.id) for line in sent)
    assert any(r.name == "uvicorn.access" for r in caplog.records)
    assert "sig=[REDACTED]" in written  # the download's access line was masked, not dropped
