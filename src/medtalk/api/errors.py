"""The one place HTTP errors are shaped: always JSON `{error: {code, message}}`, never a trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from medtalk.api.audit import record_refusal
from medtalk.audit import Outcome
from medtalk.core import metrics
from medtalk.core.errors import MedtalkError, RateLimited

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "TIMEOUT",
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
    metrics.error("http", error.code)
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
    metrics.error("http", "INVALID")
    body = error_body("INVALID", summary or "invalid request")
    body["error"]["details"] = details  # type: ignore[index]
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "ERROR")
    metrics.error("http", code)
    await _audit(request, error.status_code, code)
    return JSONResponse(
        error_body(code, str(error.detail)), status_code=error.status_code, headers=error.headers
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    metrics.error("http", "INTERNAL")
    logger.exception("unhandled error", exc_info=error)
    await _audit(request, 500, "INTERNAL")
    return JSONResponse(error_body("INTERNAL", "internal error"), status_code=500)


# The one error shape, as OpenAPI documents it (FastAPI's default 422 schema is not what we send).
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "retryAfter": {"type": "integer"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
_API_ERRORS = {
    "400": "the body cannot be parsed",
    "401": "missing, invalid, expired or revoked bearer token",
    "403": "the caller's role may not do this",
    "404": "no such object, or not the caller's (never told apart)",
    "409": "the object's state forbids it",
    "413": "body or file over the limit",
    "415": "file content is not an allowed type",
    "422": "the request is malformed or breaks a rule",
    "429": "rate limited; retry after `retryAfter` seconds",
    "503": "a dependency is down; safe to retry",
}


def _document_errors(app: FastAPI) -> None:
    """Every /api/ operation documents the error answers it can give, with their real shape."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Error"] = ERROR_SCHEMA
        reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                if not path.startswith("/api/"):
                    responses.pop("422", None)
                    continue
                for status, description in _API_ERRORS.items():
                    responses[status] = {"description": description, "content": reference}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MedtalkError, _medtalk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    _document_errors(app)
