"""One handler per error family: JSON ``{"error": {code, message, details}}`` for the API,
a message on a page for the browser (never a stack trace)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from coalwatch.errors import CoalwatchError

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
    return _page(request, exc.status, exc.code, exc.message)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": _location(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    message = "; ".join(f"{d['loc']}: {d['msg']}" for d in details) or "invalid request"
    if _is_api(request):
        return JSONResponse(_body("invalid", message, details), status_code=422)
    return _page(request, 422, "invalid", message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
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


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database is down or restarting: 503, retry later (a station keeps its records)."""
    down = isinstance(exc, OperationalError | InterfaceError | PoolTimeout) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if not down:
        return await _bug(request, exc)
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
    )
    message = "the database is unavailable; retry later"
    if _is_api(request):
        return JSONResponse(
            _body("database_unavailable", message), status_code=503, headers={"Retry-After": "5"}
        )
    try:
        return _page(request, 503, "database_unavailable", message)
    except Exception:  # the page needs the database too
        return Response(f"503 {message}", status_code=503, media_type="text/plain")


def install(app: FastAPI) -> None:
    app.add_exception_handler(CoalwatchError, _coalwatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _bug)
