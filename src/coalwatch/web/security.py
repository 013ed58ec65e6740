"""Security headers on every response of the center.

The pages load nothing from outside the center (no CDN: the monitoring network is
closed) and run no inline script (htmx and the page scripts are files under
/static), so the Content-Security-Policy allows the center's own origin only.
Inline styles stay allowed: htmx injects its indicator style and the templates use a
few ``style=`` attributes. Over HTTPS (``coalwatch serve --certfile --keyfile``, or a
TLS proxy that sets the scheme) browsers are also told to use HTTPS only (HSTS).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coalwatch.auth.service import authenticate
from coalwatch.errors import CoalwatchError
from coalwatch.storage.session import transaction

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
#: one year; not includeSubDomains: other hosts of the mine's domain may not have TLS
HSTS = (b"strict-transport-security", b"max-age=31536000")


class _HttpMiddleware:
    """An ASGI middleware that looks at HTTP requests only (``http``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(_HttpMiddleware):
    """Adds the headers a response does not set itself; HSTS on HTTPS requests only."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = [*HEADERS, HSTS] if scope.get("scheme") == "https" else HEADERS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in wanted if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


#: API paths that authenticate otherwise than by token: the documentation (public), the
#: event stream (token, ticket or session cookie: events/api.py) and the signed uploads
#: (a downstream center's poll for decisions is signed as its batches are)
_OPEN_API = re.compile(r"^/api/v1/(openapi\.json|docs(/.*)?|events)$")
_SIGNED_UPLOAD = re.compile(
    r"^/api/v1/((stations|centers)/[^/]+/batches|centers/[^/]+/decisions"
    r"|stations/[^/]+/config/fetch)$"
)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class RequestGuard(_HttpMiddleware):
    """What is checked before a request's body or query is looked at.

    * A body larger than the limit (``max_body_bytes``; a signed upload
      ``max_upload_bytes``) is refused with 413: at once when ``Content-Length``
      says so, else as soon as more has arrived than the limit.
    * An API request carries a known token, or is refused with 401 before any
      validation: an anonymous caller learns nothing of the fields an operation
      takes. The signed uploads check their signature over the body (after the
      size limit, and knowing the station before parsing it).
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state.coalwatch
        path: str = scope["path"]
        signed = _SIGNED_UPLOAD.match(path) is not None
        limit: int = state.settings.max_upload_bytes if signed else state.settings.max_body_bytes
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _refuse(scope, receive, send, BodyTooLarge(limit).detail, 413, "too_large")
            return
        if path.startswith("/api/v1/") and not signed and not _OPEN_API.match(path):
            problem = await run_in_threadpool(_token_problem, state, headers.get("authorization"))
            if problem is not None:
                await _refuse(scope, receive, send, problem.message, problem.status, problem.code)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _token_problem(state: Any, authorization: str | None) -> CoalwatchError | None:
    """Why the request's token is refused, or None when it is known (the route checks
    its permissions and rate limit itself)."""
    try:
        with transaction(state.sessions) as session:
            authenticate(session, authorization)
    except CoalwatchError as exc:
        return exc
    except DBAPIError:  # the database is down: the route answers 503 with its reason
        return None
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, message: str, status: int, code: str
) -> None:
    body = {"error": {"code": code, "message": message, "details": None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    response = JSONResponse(body, status_code=status, headers=headers)
    await response(scope, receive, send)
