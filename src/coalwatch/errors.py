"""One error root: every expected failure carries its HTTP status and a stable code.

A 5xx never comes from bad input: anything that is not a CoalwatchError is a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any


def N_(message: str) -> str:
    """Marks a message id for the catalog (``web/catalog.py`` extracts ``N_``) without
    translating it: the page that shows the error does, in its reader's language."""
    return message


class CoalwatchError(Exception):
    """``message`` may be a gettext message id (Chinese) with ``%(name)s`` filled from
    ``params``: the API answers it in Chinese, a page in its reader's language."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        details: Any = None,
        *,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
        labels: Collection[str] = (),
    ) -> None:
        self.text = message
        self.params = dict(params) if params else None
        #: the params whose values are message ids themselves (a role's name ...)
        self.labels = frozenset(labels)
        self.message = message % self.params if self.params else message
        super().__init__(self.message)
        self.details = details
        if code is not None:
            self.code = code

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message in a reader's language (the same text when it has no translation)."""
        if not self.params:
            return gettext(self.text)
        values = {k: gettext(v) if k in self.labels else v for k, v in self.params.items()}
        try:
            return gettext(self.text) % values
        except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
            return self.message

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
