"""Domain errors raised by services; each edge (REST, Socket.IO) maps them in one place.

MedtalkError
├── Invalid        (422) the request is malformed or breaks a rule
├── Unauthorized   (401) no valid credentials
├── Forbidden      (403) authenticated, but the role may not do this
├── NotFound       (404) missing, or not yours (we never reveal which)
├── Conflict       (409) the object's state forbids it (closed conversation, ended call)
├── TooLarge       (413) body or file over the limit
├── UnsupportedMedia (415) file content is not an allowed type
├── Locked         (423) the object exists but may not be served now (file not scanned, infected)
├── RateLimited    (429) try again after `retry_after` seconds
└── Unavailable    (503) a dependency is down; safe to retry
"""

from __future__ import annotations


class MedtalkError(Exception):
    status_code = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


class Invalid(MedtalkError):
    status_code = 422
    code = "INVALID"


class Unauthorized(MedtalkError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(MedtalkError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(MedtalkError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(MedtalkError):
    status_code = 409
    code = "CONFLICT"


class TooLarge(MedtalkError):
    status_code = 413
    code = "TOO_LARGE"


class UnsupportedMedia(MedtalkError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class Locked(MedtalkError):
    status_code = 423
    code = "LOCKED"


class RateLimited(MedtalkError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        body["error"] = {**body["error"], "retryAfter": self.retry_after}  # type: ignore[dict-item]
        return body


class Unavailable(MedtalkError):
    status_code = 503
    code = "UNAVAILABLE"
