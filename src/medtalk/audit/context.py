"""Who acts and from where: the edge (a REST route or a socket event) builds a RequestContext
once; the service method that acts on it writes the audit row, so both doors leave one trail."""

from __future__ import annotations

from dataclasses import dataclass, field

from medtalk.audit.trail import Client
from medtalk.core.auth import Principal


@dataclass(frozen=True)
class RequestContext:
    actor: Principal
    client: Client = field(default_factory=Client)
