"""Base for everything that crosses the wire: snake_case in Python, the spec's camelCase outside."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
