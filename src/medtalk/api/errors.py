"""The one place HTTP errors are shaped: always JSON `{error: {code, message}}`, never a trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from medtalk.api.audit import record_refusal
from medtalk.audit import Outcome
from medtalk.core.errors import MedtalkError, RateLimited

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_body(code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


# Refused access is audited (security, issue 9); 5xx answers are audited as errors.
_AUDITED_REFUSALS = (401, 403, 404)


async def _audit(request: Request, status_code: int, code: str) -> None:
    if status_code in _AUDITED_REFUSALS:
        await record_refusal(request, status_code, code, Outcome.DENIED)
    elif status_code >= 500:
        await record_refusal(request, status_code, code, Outcome.ERROR)


async def _medtalk_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MedtalkError)
    await _audit(request, error.status_code, error.code)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    if error.status_code == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=headers)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {
            "field": ".".join(str(part) for part in item.get("loc", ()) if part != "body"),
            "message": item.get("msg", "invalid"),
        }
        for item in error.errors()
    ]
    summary = "; ".join(f"{d['field'] or 'body'}: {d['message']}" for d in details[:3])
    body = error_body("INVALID", summary or "invalid request")
    body["error"]["details"] = details  # type: ignore[index]
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "ERROR")
    await _audit(request, error.status_code, code)
    return JSONResponse(
        error_body(code, str(error.detail)), status_code=error.status_code, headers=error.headers
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=error)
    await _audit(request, 500, "INTERNAL")
    return JSONResponse(error_body("INTERNAL", "internal error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MedtalkError, _medtalk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
