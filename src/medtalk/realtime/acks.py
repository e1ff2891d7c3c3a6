"""Socket.IO acknowledgements: the result, or `{error: {code, message}}` (the one mapping)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from medtalk.core import metrics
from medtalk.core.errors import Invalid, MedtalkError

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


# Records an access refused with 401/403/404 (the audit trail), given the event and the error.
OnRefusal = Callable[[str, MedtalkError], Awaitable[None]]


async def answer(
    event: str, call: Callable[[], Awaitable[dict[str, Any]]], on_refusal: OnRefusal
) -> dict[str, Any]:
    """Run one event's handler and turn its outcome into the acknowledgement."""
    with metrics.socket_event(event) as outcome:
        try:
            return await call()
        except MedtalkError as error:
            outcome["outcome"] = error.code
            metrics.error("socket", error.code)
            if error.status_code in (401, 403, 404):  # refused access is audited
                await on_refusal(event, error)
            return error.to_dict()
        except ValidationError as error:
            outcome["outcome"] = Invalid.code
            metrics.error("socket", Invalid.code)
            return Invalid(_validation_message(error)).to_dict()
        except Exception:
            outcome["outcome"] = "INTERNAL"
            metrics.error("socket", "INTERNAL")
            logger.exception("socket event %s failed", event)
            return {"error": {"code": "INTERNAL", "message": "internal error"}}


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "payload"
    return f"{where}: {first.get('msg', 'invalid')}"


def parse(model: type[ModelT], data: Any) -> ModelT:
    if not isinstance(data, dict):
        raise Invalid("the event payload must be a JSON object")
    return model.model_validate(data)
