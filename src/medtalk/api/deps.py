"""Typed FastAPI dependencies: `ServicesDep` and `CurrentUser` (verified and provisioned)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medtalk.api.services import Services
from medtalk.core.auth import Principal
from medtalk.core.logging import update_context

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <JWT>")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def authenticate(
    services: Services, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """Verify the bearer token and provision its user; Unauthorized (401) otherwise."""
    header = f"Bearer {credentials.credentials}" if credentials else None
    principal = await services.verifier.verify_header(header)
    await services.users.ensure(principal)
    update_context(user_id=str(principal.user_id))
    return principal


async def current_user(
    request: Request, services: ServicesDep, credentials: BearerCredentials
) -> Principal:
    principal = await authenticate(services, credentials)
    request.state.principal = principal  # names the caller in audit rows of refusals
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
