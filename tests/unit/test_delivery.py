"""Per-socket cursors: every message exactly once, in seq order, whatever order they arrive in."""

from __future__ import annotations

import uuid
from typing import Any

from medtalk.realtime.delivery import Delivery

CONVERSATION = uuid.uuid4()


class FakeStore:
    """Stands in for the database: a list of committed messages (no real one is needed here)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def commit(self, seq: int) -> dict[str, Any]:
        message = {"seq": seq, "content": f"m{seq}"}
        self.messages.append(message)
        return message

    async def after(self, _conversation: uuid.UUID, after: int) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["seq"] > after][:2]  # small pages on purpose


def make() -> tuple[Delivery, FakeStore, dict[str, list[int]]]:
    store = FakeStore()
    sent: dict[str, list[int]] = {}

    async def send(sid: str, payload: dict[str, Any]) -> None:
        sent.setdefault(sid, []).append(payload["seq"])

    return Delivery(store.after, send), store, sent


async def test_out_of_order_and_duplicate_arrivals_are_delivered_once_in_order() -> None:
    delivery, store, sent = make()
    await delivery.subscribe("a", CONVERSATION, None, 0)
    messages = [store.commit(seq) for seq in range(1, 6)]
    for message in (messages[2], messages[0], messages[1], messages[2], messages[4], messages[3]):
        await delivery.deliver(CONVERSATION, message["seq"], message)
    assert sent["a"] == [1, 2, 3, 4, 5]


async def test_subscribe_with_last_seen_replays_then_continues() -> None:
    delivery, store, sent = make()
    for seq in range(1, 8):
        store.commit(seq)
    replayed = await delivery.subscribe("a", CONVERSATION, 2, 7)
    assert replayed == 5 and sent["a"] == [3, 4, 5, 6, 7]
    await delivery.deliver(CONVERSATION, 8, store.commit(8))
    assert sent["a"] == [3, 4, 5, 6, 7, 8]


async def test_message_committed_just_before_subscribe_is_not_lost() -> None:
    delivery, store, sent = make()
    store.commit(1)
    store.commit(2)  # committed after the caller read newest_seq=1, before subscribing
    await delivery.subscribe("a", CONVERSATION, None, 1)
    assert sent["a"] == [2]


async def test_unsubscribed_socket_gets_nothing() -> None:
    delivery, store, sent = make()
    await delivery.subscribe("a", CONVERSATION, None, 0)
    delivery.unsubscribe("a")
    await delivery.deliver(CONVERSATION, 1, store.commit(1))
    assert "a" not in sent and delivery.subscribers(CONVERSATION) == 0


async def test_resync_delivers_the_last_message_of_a_burst_whose_fan_out_was_lost() -> None:
    delivery, store, sent = make()
    await delivery.subscribe("a", CONVERSATION, None, 0)
    await delivery.subscribe("b", CONVERSATION, None, 0)
    first = store.commit(1)
    await delivery.deliver(CONVERSATION, 1, first)
    store.commit(2)
    store.commit(3)  # committed, but their fan-out never reached this node
    assert delivery.lowest_cursors() == {CONVERSATION: 1}
    await delivery.resync(CONVERSATION)
    assert sent == {"a": [1, 2, 3], "b": [1, 2, 3]}
    assert delivery.lowest_cursors() == {CONVERSATION: 3}
