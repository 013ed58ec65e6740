"""One error root: every expected failure carries its HTTP status and a stable code.

A 5xx never comes from bad input: anything that is not a CoalwatchError is a bug.
"""

from __future__ import annotations

from typing import Any


class CoalwatchError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (none by default)."""
        return {}


class BadRequest(CoalwatchError):
    status = 400
    code = "bad_request"


class Unauthorized(CoalwatchError):
    status = 401
    code = "unauthorized"


class Forbidden(CoalwatchError):
    status = 403
    code = "forbidden"


class NotFound(CoalwatchError):
    status = 404
    code = "not_found"


class Conflict(CoalwatchError):
    status = 409
    code = "conflict"


class Invalid(CoalwatchError):
    status = 422
    code = "invalid"


class TooManyRequests(CoalwatchError):
    """A token made more requests than its rate limit allows; retry after some seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, {"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class DatabaseNotReady(CoalwatchError):
    status = 503
    code = "database_not_ready"
