"""One job: a kind, a JSON payload of ids (never content), and how often it failed so far."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempts: int = 0
    revision: int = 0  # of its outbox row when claimed (coalesced rows are written to again)

    def encode(self) -> bytes:
        return json.dumps({"id": str(self.id), "kind": self.kind, "payload": self.payload}).encode()

    @classmethod
    def decode(cls, body: bytes, attempts: int = 0) -> Job:
        data = json.loads(body)
        return cls(uuid.UUID(data["id"]), data["kind"], data["payload"], attempts)
