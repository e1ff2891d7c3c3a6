"""The edge's packet class answers "does this data hold bytes?" as python-socketio's does."""

from __future__ import annotations

from typing import Any

import pytest
from socketio import packet

from medtalk.realtime.packets import EdgePacket

MESSAGE = {"id": "m1", "content": "Tôi bị đau đầu", "seq": 3, "attachments": [], "replyTo": None}


@pytest.mark.parametrize(
    "data",
    [
        ["message_received", MESSAGE],
        [{"ok": True, "message": MESSAGE}],
        [b"raw"],
        [{"file": {"chunks": [1, 2.5, False, bytearray(b"x")]}}],
        ["event", {"inside_a_tuple": (b"x",)}],  # tuples are not looked into, as upstream
        [{b"key": "bytes as a key are not data"}],
        "text",
        None,
    ],
)
def test_same_answer_as_python_socketio(data: Any) -> None:
    assert EdgePacket.data_is_binary(data) == packet.Packet.data_is_binary(data)


def test_binary_data_still_goes_as_a_binary_event() -> None:
    assert EdgePacket(packet.EVENT, data=["file", b"\x00"]).packet_type == packet.BINARY_EVENT
    assert EdgePacket(packet.EVENT, data=["message_received", MESSAGE]).packet_type == packet.EVENT
