"""`/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics`."""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from medtalk.core import metrics
from medtalk.ops.checks import Readiness, Report
from medtalk.ops.stats import ActiveConversations

logger = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])

# A scrape refreshes the dependency gauges, but never checks more often than this.
SCRAPE_CHECK_INTERVAL = 5.0


class Operations:
    """What the ops routes need, kept on `app.state.ops`."""

    def __init__(self, readiness: Readiness, active_conversations: ActiveConversations) -> None:
        self.readiness = readiness
        self.active_conversations = active_conversations
        self._checked_at = float("-inf")

    async def refresh_gauges(self) -> None:
        if time.monotonic() - self._checked_at >= SCRAPE_CHECK_INTERVAL:
            self._checked_at = time.monotonic()
            await self.readiness.run()
        try:
            await self.active_conversations.refresh()
        except Exception:  # noqa: BLE001 - a down database shows in medtalk_dependency_up
            logger.warning("could not count active conversations")


def get_operations(request: Request) -> Operations:
    operations: Operations = request.app.state.ops
    return operations


OperationsDep = Annotated[Operations, Depends(get_operations)]


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    """Liveness: the process serves requests. Never looks at dependencies.

    `node` names this process, so behind a load balancer one can tell which node answered.
    """
    return {"status": "ok", "node": request.app.state.container.settings.node_name}


@router.get("/readyz", responses={503: {"description": "a required dependency is down"}})
async def readyz(operations: OperationsDep) -> JSONResponse:
    """Readiness: each dependency with status and latency; 503 when a required one is down."""
    report: Report = await operations.readiness.run()
    return JSONResponse(report.wire(), status_code=200 if report.ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics_endpoint(operations: OperationsDep) -> Response:
    """Prometheus text exposition of every medtalk_* metric."""
    await operations.refresh_gauges()
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
