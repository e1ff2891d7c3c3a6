"""Socket.IO acknowledgements: the result, or `{error: {code, message}}` (the one mapping)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from medtalk.core import metrics
from medtalk.core.errors import Invalid, MedtalkError

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
Handler = Callable[[Any, str, Any], Awaitable[dict[str, Any]]]


def acknowledged(handler: Handler) -> Callable[[Any, str, Any], Awaitable[Any]]:
    @functools.wraps(handler)
    async def wrapper(self: Any, sid: str, data: Any = None) -> Any:
        event = handler.__name__.removeprefix("on_")
        with metrics.socket_event(event) as outcome:
            try:
                return await handler(self, sid, data)
            except MedtalkError as error:
                outcome["outcome"] = error.code
                metrics.error("socket", error.code)
                if error.status_code in (401, 403, 404):  # refused access is audited
                    audit_refusal = getattr(self, "_audit_refusal", None)
                    if audit_refusal is not None:
                        await audit_refusal(sid, event, error)
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

    return wrapper


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "payload"
    return f"{where}: {first.get('msg', 'invalid')}"


def parse(model: type[ModelT], data: Any) -> ModelT:
    if not isinstance(data, dict):
        raise Invalid("the event payload must be a JSON object")
    return model.model_validate(data)
