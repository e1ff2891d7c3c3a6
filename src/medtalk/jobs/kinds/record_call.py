"""`record_call`: a finished or missed video call's message in its conversation (issue 17).

Written by CallService.finish in the transaction that ends the room, so a crash right after
that commit loses no call message (the job is still in the outbox). The message's client id
(`call:<roomId>`) makes a repeated run store nothing twice. Not portable: the message is
delivered as `message_received` to the sockets of a `serve` node.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from medtalk.jobs.registry import JobKind, Payload

if TYPE_CHECKING:  # the calls service writes these jobs: no import cycle at run time
    from medtalk.calls.history import CallHistory

RECORD_CALL = "record_call"


def payload(room_id: uuid.UUID) -> Payload:
    return {"roomId": str(room_id)}


def kind(history: CallHistory) -> JobKind:
    async def run(payload: Payload) -> None:
        await history.call_finished(uuid.UUID(payload["roomId"]))

    return JobKind(RECORD_CALL, run, portable=False)
