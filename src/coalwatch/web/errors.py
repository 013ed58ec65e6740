"""One handler per error family: JSON ``{"error": {code, message, details}}`` for the API,
a message on a page for the browser (never a stack trace)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coalwatch.errors import CoalwatchError
from coalwatch.storage.session import LOCK_NOT_AVAILABLE, QUERY_CANCELED, server_code
from coalwatch.web.refusals import describe

log = logging.getLogger("coalwatch.web")

#: page titles per status (gettext message ids)
TITLES = {
    400: "请求有误",
    401: "未登录",
    403: "权限不足",
    404: "未找到",
    405: "不支持的操作",
    409: "操作冲突",
    422: "输入有误",
    500: "系统内部错误",
    503: "系统暂不可用",
}


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _location(loc: Any) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _page(request: Request, status: int, code: str, message: str) -> Response:
    """The error as a page, or, for an htmx request, as a message in the page's flash area."""
    from coalwatch.web.context import app_state
    from coalwatch.web.pages import login_url, password_url, render

    htmx = bool(request.headers.get("hx-request"))
    if code == "login_required":
        url = login_url(request) if request.method == "GET" else "/login"
        if htmx:
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)
    if code == "password_change_required" and not htmx:
        # a page: to the password form, and from there on to the page that was asked for
        url = password_url(request) if request.method == "GET" else "/password"
        return RedirectResponse(url, status_code=303)
    # a fragment (the bell, a live table, an htmx form) answers in its page's flash area,
    # never by sending the whole page away: the password page would load it again
    state = app_state(request)
    template = "error_fragment.html" if htmx else "error.html"
    headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"} if htmx else None
    return render(
        request,
        state,
        template,
        status=status,
        headers=headers,
        status_code=status,
        title=TITLES.get(status, TITLES[400] if status < 500 else TITLES[500]),
        message=message,
        code=code,
    )


async def _coalwatch_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CoalwatchError)
    if _is_api(request):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)
    return _page(request, exc.status, exc.code, exc.translated(_gettext(request)))


def _gettext(request: Request) -> Callable[[str], str]:
    """The catalog of the page's reader (the language of the session or the default)."""
    from coalwatch.web.context import app_state
    from coalwatch.web.i18n import translations
    from coalwatch.web.pages import language_of

    return translations(language_of(request, app_state(request))).gettext


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not _is_api(request):
        return _page(request, 422, "invalid", describe(exc.errors(), _gettext(request)))
    details = [
        {"loc": _location(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    message = "; ".join(f"{d['loc']}: {d['msg']}" for d in details) or "invalid request"
    return JSONResponse(_body("invalid", message, details), status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "too_large"}.get(
        exc.status_code, "http_error"
    )
    if _is_api(request) or exc.status_code < 400:
        return JSONResponse(
            _body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
    return _page(request, exc.status_code, code, str(exc.detail))


async def _bug(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _is_api(request):
        return JSONResponse(
            _body("internal", "internal error; it has been logged"), status_code=500
        )
    try:
        return _page(request, 500, "internal", "internal error; it has been logged")
    except Exception:  # the error page itself failed: plain text, still no trace
        log.exception("the error page failed")
        return Response("500 internal error", status_code=500, media_type="text/plain")


class DatabaseEpisode:
    """An episode of the database being unavailable, or keeping requests waiting past
    their limits, told once in the log as it begins (the first refused request, with
    which of the two it is) and once as it ends (the first answered one after it),
    however many requests it refuses meanwhile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None
        self._refused = 0
        self._waits = False

    def refused(self, request: Request, exc: Exception) -> None:
        wait = _wait_past_limit(exc)
        with self._lock:
            self._refused += 1
            if self._since is not None:
                return
            self._since, self._waits = time.monotonic(), wait is not None
        if wait is not None:
            log.warning(
                "database kept %s %s waiting past its %s; answering 503 while requests "
                "wait that long",
                request.method,
                request.url.path,
                wait,
            )
            return
        log.warning(
            "database unavailable (from %s %s: %s); answering 503 until it is back",
            request.method,
            request.url.path,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )

    def answered(self) -> None:
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._since is None:
                return
            lasted, refused, waits = time.monotonic() - self._since, self._refused, self._waits
            self._since, self._refused = None, 0
        log.info(
            "database %s again after %.1f s; %d requests were answered 503",
            "answered in time" if waits else "available",
            lasted,
            refused,
        )


def _wait_past_limit(exc: Exception) -> str | None:
    """The limit a request waited past with the database there, and why; None when the
    database itself is away or broke the link."""
    held = "lock time-out (another transaction held what it needed)"
    code = server_code(exc)
    if code == LOCK_NOT_AVAILABLE:
        return held
    if code == QUERY_CANCELED:
        return "statement time-out (a statement ran longer than allowed)"
    cause = getattr(exc, "orig", None)
    if isinstance(cause, sqlite3.OperationalError) and "database is locked" in str(cause):
        return held  # SQLite's busy time-out: another writer held the file
    return None


#: seconds a client is asked to wait before it retries while the database is unavailable
RETRY_AFTER_S = 5


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database is down, restarting or not answering in time: 503, retry later (a
    station keeps its records)."""
    down = isinstance(exc, OperationalError | InterfaceError | PoolTimeout) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if isinstance(exc, DataError) and not down:
        # a value the database cannot hold (a NUL in a text on PostgreSQL, a number out
        # of its column's range) that validation let through: the input's fault, a 422
        log.warning("value refused by the database on %s %s", request.method, request.url.path)
        message = "a value of the request cannot be stored (out of range or a NUL character)"
        if _is_api(request):
            return JSONResponse(_body("invalid", message), status_code=422)
        return _page(request, 422, "invalid", message)
    if not down:
        return await _bug(request, exc)
    episode: DatabaseEpisode = request.app.state.database_episode
    episode.refused(request, exc)
    message = "the database is unavailable; retry later"
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if _is_api(request):
        return JSONResponse(
            _body("database_unavailable", message), status_code=503, headers=headers
        )
    try:
        response = _page(request, 503, "database_unavailable", message)
        response.headers.update(headers)
        return response
    except Exception:  # the page needs the database too
        return Response(f"503 {message}", status_code=503, media_type="text/plain", headers=headers)


class _EpisodeEnds:
    """Tells the episode that a request was answered (pure ASGI: streams pass through)."""

    def __init__(self, app: ASGIApp, episode: DatabaseEpisode) -> None:
        self.app, self.episode = app, episode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 500:
                self.episode.answered()
            await send(message)

        await self.app(scope, receive, sending)


def install(app: FastAPI) -> None:
    episode = DatabaseEpisode()
    app.state.database_episode = episode
    app.add_middleware(_EpisodeEnds, episode=episode)
    app.add_exception_handler(CoalwatchError, _coalwatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _bug)
