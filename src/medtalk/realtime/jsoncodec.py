"""orjson behind the `json` module interface python-socketio and python-engineio call.

`AsyncServer(json=...)` wants a module-like object with `dumps` and `loads`; the packet
classes call `dumps(data, separators=(",", ":"))`, so extra keyword arguments are accepted and
ignored (orjson's output is already compact). Measured in bench/README.md: encoding and
decoding every packet was a visible slice of the per-message CPU with the standard library.
"""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError  # a ValueError, as json.JSONDecodeError is

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any, **_ignored: Any) -> str:
    return orjson.dumps(value, option=_OPTIONS).decode()


def loads(text: str | bytes, **_ignored: Any) -> Any:
    return orjson.loads(text)
