"""python-socketio and python-engineio imported without the clients and backends medtalk skips.

Memory (issue 15): their package `__init__`s import every client and message-queue manager
they ship, and with them aiohttp, requests, redis and aio_pika, about 50 MB of a server
process that uses none of them on the embedded defaults. `install` registers each package as
a module whose public names are imported from their submodules on first use (PEP 562), as the
real `__init__` would have imported them at once. The mapping is read from the installed
package's own `__init__`, so it follows upgrades; a package whose `__init__` does more than
`from .submodule import name` is left to the normal import.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

LAZY_PACKAGES = ("engineio", "socketio")


def install() -> None:
    """Register the lazy packages, unless already imported (then nothing is left to save)."""
    for name in LAZY_PACKAGES:
        if name not in sys.modules:
            _install(name)


def _install(name: str) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return
    exports = _exports(Path(spec.origin))
    if exports is None:
        return
    module = importlib.util.module_from_spec(spec)  # __path__ set, __init__ not run

    def __getattr__(attribute: str) -> Any:
        submodule = exports.get(attribute)
        if submodule is None:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        try:
            value = getattr(importlib.import_module(f"{name}.{submodule}"), attribute)
        except ImportError:
            value = None  # the real __init__'s `try: ... except ImportError: x = None`
        setattr(module, attribute, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__all__ = sorted(exports)  # type: ignore[attr-defined]
    sys.modules[name] = module


def _exports(init: Path) -> dict[str, str] | None:
    """{public name: submodule} from an `__init__` made only of relative imports, else None."""
    exports: dict[str, str] = {}
    for node in _flatten(ast.parse(init.read_text()).body):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            exports.update({alias.asname or alias.name: node.module for alias in node.names})
        elif not _harmless(node):
            return None
    return exports


def _flatten(body: list[ast.stmt]) -> list[ast.stmt]:
    # `try: from .x import y / except ImportError: y = None` counts as its imports.
    nodes: list[ast.stmt] = []
    for node in body:
        nodes.extend(_flatten(node.body) if isinstance(node, ast.Try) else [node])
    return nodes


def _harmless(node: ast.stmt) -> bool:
    # `__all__ = [...]` and `x = None` (from an except branch) run nothing.
    return isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Constant)
