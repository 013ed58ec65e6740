"""What a page route needs: the signed-in user, the CSRF check, the language, templates.

A page route declares the menu permission it shows (``need("monitor:view")``);
changes are checked again, by permission and scope, in the services.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from coalwatch import __version__
from coalwatch.auth.principal import Principal
from coalwatch.domain import alarms as alarm_texts
from coalwatch.errors import N_, CoalwatchError, Forbidden
from coalwatch.events.broker import attach
from coalwatch.storage.session import transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import Account
from coalwatch.web import i18n, refusals
from coalwatch.web.context import AppState, app_state
from coalwatch.web.navigation import Navigation, navigation

PACKAGE = Path(__file__).resolve().parent.parent
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(CoalwatchError):
    status = 401
    code = "login_required"


class PasswordChangeRequired(CoalwatchError):
    status = 403
    code = "password_change_required"


def template_dirs() -> list[Path]:
    """web/templates first, then every feature's templates/ (each holds a folder of its own)."""
    return [PACKAGE / "web" / "templates", *sorted(PACKAGE.glob("*/templates"))]


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(d) for d in dict.fromkeys(template_dirs())]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    fmt = i18n.Formats(language, ZoneInfo("UTC"))
    # jinja's own gettext marks its result safe (Markup): ``_(variable)`` holding data
    # would then inject markup. Ours returns plain text, escaped like any other value.
    env.globals["gettext"] = _text_gettext(fmt)
    env.filters["label"] = fmt.label
    env.globals["role_label"] = fmt.role_label
    env.globals["LANGUAGES"] = i18n.LANGUAGES
    env.globals.update(composers(i18n.translations(language).gettext))
    env.globals["version"] = __version__
    return env


def _text_gettext(fmt: i18n.Formats) -> Callable[..., str]:
    def gettext(message: str, **variables: Any) -> str:
        # always formatted, as jinja's newstyle gettext does ("%%" is a literal "%")
        return fmt.gettext(message) % variables

    return gettext


def composers(gettext: Callable[[str], str]) -> dict[str, Callable[..., str | None]]:
    """Texts the system composes from stored codes and values, in one language: an
    alarm's detail and figures, a fault's phenomenon (the stored text when there are
    no structured params: an alarm of an older version, a fault entered by hand)."""

    def alarm_detail(alarm: Any) -> str | None:
        return alarm_texts.compose_detail(alarm.params, gettext) or alarm.detail

    def alarm_figure(text: str | None) -> str | None:
        return alarm_texts.shown_figure(text, gettext)

    def fault_phenomenon(fault: Any) -> str | None:
        composed = alarm_texts.compose_phenomenon(fault.kind, fault.params, gettext)
        return composed or fault.phenomenon

    return {
        "alarm_detail": alarm_detail,
        "alarm_figure": alarm_figure,
        "fault_phenomenon": fault_phenomenon,
    }


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Every form and htmx request that changes something carries the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected, given):
        raise Forbidden(N_("表单已过期（CSRF 令牌缺失或错误），请刷新页面后重试"), code="csrf")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def language_of(request: Request, state: AppState) -> str:
    return i18n.choose(request.session.get("lang") or state.settings.default_locale)


@dataclass
class Page:
    """A page request: who, in which language, and how to answer."""

    request: Request
    state: AppState
    principal: Principal
    account: Account
    language: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fmt(self) -> i18n.Formats:
        return i18n.Formats(self.language, self.state.settings.tz)

    def _(self, message: str) -> str:
        return self.fmt.gettext(message)

    def label(self, text: object) -> str:
        """A label of data (a status, a kind ...): see :meth:`i18n.Formats.label`."""
        return self.fmt.label(text)

    def now(self) -> datetime:
        return self.state.clock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction, committed when the block ends (events publish on commit)."""
        with transaction(self.state.sessions) as session:
            attach(session, self.state.broker)
            yield session

    def flash(self, message: str, level: str = "success") -> None:
        self.request.session.setdefault("flash", []).append([level, message])

    def redirect(self, url: str, message: str | None = None) -> Response:
        if message:
            self.flash(message)
        if self.request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    def can(self, permission: str) -> bool:
        return self.principal.has(permission)

    def render(
        self,
        template: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        return render(
            self.request,
            self.state,
            template,
            status=status,
            headers=headers,
            page=self,
            principal=self.principal,
            account=self.account,
            # the menu, the bell and the live events wait until a forced password change
            # is done: each of them would only lead back to the password page
            nav=Navigation((), None)
            if self.account.must_change_password
            else navigation(self.principal, self.request.url.path, self.request.url.query),
            **context,
        )


def render(
    request: Request,
    app: AppState,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    language = language_of(request, app)
    fmt = i18n.Formats(language, app.settings.tz)
    flashes = request.session.pop("flash", []) if "session" in request.scope else []
    html = (
        environment(language)
        .get_template(template)
        .render(
            request=request,
            fmt=fmt,
            language=language,
            csrf=csrf_token(request) if "session" in request.scope else "",
            flashes=flashes,
            htmx=bool(request.headers.get("hx-request")),
            nav=context.pop("nav", Navigation((), None)),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def _load(
    state: AppState, user_id: int, user_stamp: str, session_id: str
) -> tuple[Principal, Account] | None:
    policy = users.Policy.from_settings(state.settings)
    with transaction(state.sessions) as session:
        return users.resume(session, user_id, user_stamp, session_id, state.clock(), policy)


def session_principal(request: Request) -> tuple[Principal, Account] | None:
    """The signed-in user of the request's session cookie (a blocking call)."""
    state = app_state(request)
    user_id = request.session.get("uid")
    user_stamp = request.session.get("stamp")
    since = request.session.get("since")
    session_id = request.session.get("sid")
    if not isinstance(user_id, int) or not isinstance(user_stamp, str):
        return None
    if not isinstance(session_id, str):
        return None
    if not isinstance(since, str):
        return None
    age = state.clock() - datetime.fromisoformat(since)
    if age > timedelta(hours=state.settings.session_hours) or age < -timedelta(minutes=5):
        return None
    return _load(state, user_id, user_stamp, session_id)


def need(
    permission: str | None = None, *, allow_password_change: bool = False
) -> Callable[[Request], Coroutine[Any, Any, Page]]:
    """A dependency: a signed-in user holding ``permission`` (the menu's view)."""

    async def dependency(request: Request) -> Page:
        await check_csrf(request)
        state = app_state(request)
        found = await run_in_threadpool(session_principal, request)
        if found is None:
            for key in ("uid", "stamp", "since", "sid"):
                request.session.pop(key, None)
            raise LoginRequired(N_("请先登录"))
        principal, account = found
        if account.must_change_password and not allow_password_change:
            raise PasswordChangeRequired(N_("密码须修改"))
        if permission is not None:
            principal.require(permission)
        return Page(request, state, principal, account, language_of(request, state))

    return dependency


def _wanted(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return quote(target, safe="/")


def login_url(request: Request) -> str:
    return "/login?next=" + _wanted(request)


def password_url(request: Request) -> str:
    """The forced password change, then on to the page the user asked for."""
    return "/password?next=" + _wanted(request)


def error_text(exc: ValidationError | CoalwatchError, gettext: Callable[[str], str]) -> str:
    """A refusal as a form shows it: a service's message in the reader's language."""
    if isinstance(exc, CoalwatchError):
        return exc.translated(gettext)
    return refusals.describe(exc.errors(), gettext)


async def act(page: Page, work: Callable[[Session], object], *, back: str, done: str) -> Response:
    """Run ``work`` in one transaction and come back to ``back`` with ``done``. A refusal
    (401, 403) is raised as such; any other error comes back as a message on ``back``."""

    def run() -> None:
        with page.session() as session:
            work(session)

    try:
        await run_in_threadpool(run)
    except CoalwatchError as exc:
        if exc.status in (401, 403):
            raise
        page.flash(error_text(exc, page._), "error")
        return page.redirect(back)
    return page.redirect(back, done)


@dataclass(frozen=True)
class Uploaded:
    """A file sent with a page's form (multipart)."""

    name: str
    content_type: str
    data: bytes


async def uploaded(page: Page, name: str = "file") -> Uploaded | None:
    """The file sent in the form's field ``name``; None when none was chosen."""
    form = await page.request.form()
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return Uploaded(upload.filename, upload.content_type or "", await upload.read())


async def store_upload(
    page: Page, store: Callable[[Session, Uploaded], object], *, back: str, done: str
) -> Response:
    """Store the form's file with ``store`` in one transaction (see :func:`act`); without
    a file, ``back`` asks for one."""
    upload = await uploaded(page)
    if upload is None:
        page.flash(page._("请选择文件"), "error")
        return page.redirect(back)
    return await act(page, lambda session: store(session, upload), back=back, done=done)
