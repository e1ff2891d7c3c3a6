"""Base for everything that crosses the wire: snake_case in Python, the spec's camelCase outside."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from medtalk.core.clock import iso_z

# An instant on the wire: ISO-8601 UTC with a Z (`2026-03-01T09:30:00.000Z`).
Timestamp = Annotated[datetime, PlainSerializer(iso_z, return_type=str)]


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", str_strip_whitespace=False
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict with the spec's field names."""
        return self.model_dump(mode="json", by_alias=True)


class StrictWireModel(WireModel):
    """Request bodies: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
