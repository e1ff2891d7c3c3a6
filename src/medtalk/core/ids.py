"""Where new identifiers come from."""

from __future__ import annotations

import uuid


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def parse_uuid(value: object) -> uuid.UUID | None:
    """The UUID in `value`, or None when it is not one (so callers answer 404/422, not 500)."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
