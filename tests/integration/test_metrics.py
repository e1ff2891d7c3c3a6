"""/metrics moves when the things it counts happen: sends, deliveries, sockets, uploads, HTTP."""

from __future__ import annotations

import contextlib
import uuid

from test_files import ELF, png_bytes, upload

from world import World

CONVERSATION_MESSAGES = "/api/v1/chat/conversations/{conversation_id}/messages"


async def test_a_sent_message_counts_as_sent_and_delivered_within_a_second(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation)
    before = await world.metrics()

    await patient.sends(conversation, "Tôi bị đau đầu")
    await doctor_socket.events.next("message_received")

    after = await world.metrics()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("medtalk_messages_sent_total", content_type="TEXT") == 1
    assert delta("medtalk_messages_delivered_total") == 1
    assert delta("medtalk_messages_delivered_within_1s_total") == 1
    assert delta("medtalk_message_delivery_seconds_count") == 1
    assert delta("medtalk_message_delivery_seconds_bucket", le="1.0") == 1


async def test_a_refused_send_counts_as_failed_with_its_error_code(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    before = await world.metrics()
    too_long = "x" * (world.server.settings.max_message_length + 1)
    body = {"conversationId": conversation, "content": too_long, "contentType": "TEXT"}
    assert (await patient.post("/api/v1/chat/messages/send", json=body)).status_code == 422
    after = await world.metrics()
    failed = "medtalk_messages_failed_total"
    assert after.value(failed, reason="INVALID") - before.value(failed, reason="INVALID") == 1
    assert after.value("medtalk_messages_sent_total") == before.value("medtalk_messages_sent_total")


async def test_a_missed_message_replayed_on_join_is_not_a_live_delivery(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    await patient.sends(conversation, "Bác sĩ ơi")
    before = await world.metrics()
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation, last_seq=0)
    await doctor_socket.events.next("message_received")
    after = await world.metrics()
    assert (
        after.value("medtalk_messages_replayed_total")
        - before.value("medtalk_messages_replayed_total")
        == 1
    )
    assert after.value("medtalk_messages_delivered_total") == before.value(
        "medtalk_messages_delivered_total"
    )


async def test_connections_are_counted_and_a_cut_connection_is_a_drop(world: World) -> None:
    patient = await world.patient()
    before = await world.metrics()
    polite = await patient.connects()
    cut = await patient.connects()
    during = await world.metrics()
    assert (
        during.value("medtalk_websocket_connections")
        - before.value("medtalk_websocket_connections")
        == 2
    )

    await polite.says_goodbye()  # the client asks to disconnect: not a drop
    await cut.client.eio.ws.close()  # the transport goes away under it: a drop
    after = await _wait_for(
        world,
        lambda m: (
            m.value("medtalk_websocket_connections")
            == before.value("medtalk_websocket_connections")
        ),
    )
    drops = "medtalk_websocket_drops_total"
    assert after.value(drops) - before.value(drops) == 1
    assert (
        after.value(drops, reason="transport_close") - before.value(drops, reason="transport_close")
        == 1
    )


async def test_a_refused_connection_is_counted(world: World) -> None:
    patient = await world.patient()
    before = await world.metrics()
    with contextlib.suppress(Exception):  # the refusal itself is what we count
        await patient.connects(token="not-a-token")
    after = await world.metrics()
    refused = "medtalk_websocket_connects_total"
    assert after.value(refused, outcome="refused") - before.value(refused, outcome="refused") == 1


async def test_uploads_are_counted_by_outcome(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    before = await world.metrics()
    assert (await upload(patient, conversation, "a.png", png_bytes())).status_code == 201
    assert (await upload(patient, conversation, "b.bin", ELF, "FILE")).status_code == 415
    after = await world.metrics()
    uploads = "medtalk_file_uploads_total"
    for outcome in ("accepted", "unsupported"):
        assert after.value(uploads, outcome=outcome) - before.value(uploads, outcome=outcome) == 1


async def test_http_latency_is_labelled_by_route_template_not_raw_path(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    before = await world.metrics()
    await patient.history(conversation)
    await patient.history(conversation)
    missing = await patient.get(f"/api/v1/chat/conversations/{uuid.uuid4()}/messages")
    assert missing.status_code == 404
    after = await world.metrics()
    name = "medtalk_http_request_seconds_count"
    labels = {"method": "GET", "route": CONVERSATION_MESSAGES}
    assert (
        after.value(name, status="200", **labels) - before.value(name, status="200", **labels) == 2
    )
    assert (
        after.value(name, status="404", **labels) - before.value(name, status="404", **labels) == 1
    )
    assert conversation not in after.text  # no raw path (or id) ever becomes a label


async def test_errors_are_counted_by_edge_and_code(world: World) -> None:
    patient = await world.patient()
    before = await world.metrics()
    socket = await patient.connects()
    answer = await socket.call("join_conversation", {"conversationId": str(uuid.uuid4())})
    assert answer["error"]["code"] == "NOT_FOUND"
    response = await world.http.get("/api/v1/chat/conversations")
    assert response.status_code == 401
    after = await world.metrics()
    errors = "medtalk_errors_total"
    for edge, code in (("socket", "NOT_FOUND"), ("http", "UNAUTHORIZED")):
        assert (
            after.value(errors, edge=edge, code=code) - before.value(errors, edge=edge, code=code)
            == 1
        )
    events = "medtalk_socket_event_seconds_count"
    assert (
        after.value(events, event="join_conversation", outcome="NOT_FOUND")
        - before.value(events, event="join_conversation", outcome="NOT_FOUND")
        == 1
    )


async def test_active_conversations_and_dependencies_are_exported(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    await patient.sends(conversation, "Xin chào")
    world.server.app.api.state.ops.active_conversations._refreshed_at = float("-inf")
    scrape = await world.metrics()
    assert scrape.value("medtalk_active_conversations") >= 1
    assert scrape.value("medtalk_dependency_up", dependency="database") == 1
    assert scrape.value("medtalk_build_info") == 1


async def test_request_id_is_echoed_or_generated(world: World) -> None:
    given = await world.http.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert given.headers["x-request-id"] == "trace-42.a"
    generated = await world.http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(generated.headers["x-request-id"]) == 32
    assert (
        generated.headers["x-request-id"]
        != (await world.http.get("/healthz")).headers["x-request-id"]
    )


async def test_readyz_reports_each_dependency_with_latency(world: World) -> None:
    response = await world.http.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["database"]["latencyMs"] >= 0
    assert (await world.http.get("/healthz")).json()["status"] == "ok"


async def _wait_for(world: World, condition, attempts: int = 50):  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(attempts):
        scrape = await world.metrics()
        if condition(scrape):
            return scrape
        await asyncio.sleep(0.1)  # a scrape over HTTP: polled
    raise AssertionError("metrics did not reach the expected state")
