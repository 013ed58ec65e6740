"""Pages: sign-in 登录, password 修改密码, language; users 用户管理 and roles 权限设置."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from coalwatch.auth.permissions import ALL, MENUS
from coalwatch.errors import CoalwatchError, Invalid
from coalwatch.orgs import service as orgs
from coalwatch.storage.session import transaction
from coalwatch.users import service
from coalwatch.users.schemas import RoleIn, RoleUpdate, UserIn, UserUpdate
from coalwatch.web.context import app_state
from coalwatch.web.i18n import Formats, choose
from coalwatch.web.navigation import navigation
from coalwatch.web.pages import (
    Page,
    check_csrf,
    client_address,
    error_text,
    need,
    render,
    session_principal,
)

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Page, Depends(need())]
PasswordPage = Annotated[Page, Depends(need(allow_password_change=True))]
SystemView = Annotated[Page, Depends(need("system:view"))]
PAGE_SIZE = 20


def _local(target: str | None) -> str:
    """Only a path of this center (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def first_page(page: Page) -> str:
    nav = navigation(page.principal, "/")
    return nav.groups[0].items[0].href if nav.groups else "/password"


@router.get("/")
async def home(request: Request) -> Response:
    found = await run_in_threadpool(session_principal, request)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    nav = navigation(found[0], "/")
    target = nav.groups[0].items[0].href if nav.groups else "/password"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    found = await run_in_threadpool(session_principal, request)
    if found is not None and not found[1].must_change_password:
        return RedirectResponse(_local(next), status_code=303)
    state = app_state(request)
    return render(request, state, "users/login.html", next=_local(next), username="", error=None)


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    state = app_state(request)
    policy = service.Policy.from_settings(state.settings)
    now = state.clock()
    with transaction(state.sessions) as session:
        result = service.login(session, username, password, now, policy, client_address(request))
    if result.user_id is None:
        language = choose(request.session.get("lang") or state.settings.default_locale)
        error = Formats(language, state.settings.tz).label(result.error or service.BAD_LOGIN)
        return render(
            request,
            state,
            "users/login.html",
            status=401,
            next=_local(next),
            username=username,
            error=error,
        )
    remembered = request.session.get("lang")
    preferred = result.locale or (remembered if isinstance(remembered, str) else None)
    request.session.clear()  # a new session at sign-in: no fixation
    request.session.update(
        {
            "uid": result.user_id,
            "stamp": result.stamp,
            "since": now.isoformat(),
            "sid": result.session_id,
            "csrf": secrets.token_urlsafe(32),
        }
    )
    if preferred:
        request.session["lang"] = choose(preferred)
    if result.must_change_password:
        wanted = _local(next)
        url = "/password" if wanted == "/" else "/password?next=" + quote(wanted, safe="/")
        return RedirectResponse(url, status_code=303)
    return RedirectResponse(_local(next), status_code=303)


@router.post("/logout")
def logout(page: PasswordPage) -> Response:
    with page.session() as session:
        service.logout(
            session,
            page.principal,
            page.now(),
            client_address(page.request),
            session_id=page.request.session.get("sid"),
        )
    language = page.request.session.get("lang")
    page.request.session.clear()
    if language:
        page.request.session["lang"] = language
    return RedirectResponse("/login", status_code=303)


@router.post("/lang", dependencies=[Depends(check_csrf)])
async def set_language(
    request: Request,
    lang: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    language = choose(lang)
    request.session["lang"] = language
    found = await run_in_threadpool(session_principal, request)
    if found is not None:
        state = app_state(request)

        def remember() -> None:
            with transaction(state.sessions) as session:
                service.set_locale(session, found[0], language)

        await run_in_threadpool(remember)
        return RedirectResponse(_local(next), status_code=303)
    return RedirectResponse("/login?next=" + _local(next), status_code=303)


def _after_change(page: Page, wanted: str) -> str:
    """The page the user asked for before the password form, else the first of the menu."""
    target = _local(wanted)
    return first_page(page) if target == "/" or target.startswith("/password") else target


@router.get("/password")
def password_form(
    page: PasswordPage, next: Annotated[str, Query(max_length=2048)] = "/"
) -> Response:
    return page.render("users/password.html", error=None, next=_local(next))


@router.post("/password")
def change_password(
    page: PasswordPage,
    old: Annotated[str, Form(max_length=256)],
    new: Annotated[str, Form(max_length=256)],
    again: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    try:
        if new != again:
            raise Invalid(page._("两次输入的新密码不一致"))
        with page.session() as session:
            stamp = service.change_password(
                session,
                page.principal,
                old,
                new,
                page.now(),
                session_id=page.request.session.get("sid"),
            )
    except Invalid as exc:
        return page.render(
            "users/password.html", status=422, error=exc.translated(page._), next=_local(next)
        )
    page.request.session["stamp"] = stamp
    page.request.session["csrf"] = secrets.token_urlsafe(32)
    page.account = page.account.model_copy(update={"must_change_password": False})
    return page.redirect(_after_change(page, next), page._("密码已修改"))


# ---- users 用户管理 ------------------------------------------------------------------------


def _orgs(page: Page) -> list[tuple[str, str, int]]:
    """(code, name, depth) of the units the administrator may assign."""
    with page.session() as session:
        return orgs.unit_tree(session, page.principal)


@router.get("/system/users")
def users_page(
    page: SystemView,
    q: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
) -> Response:
    with page.session() as session:
        items, total = service.list_users(
            session,
            page.principal,
            page.now(),
            text=q,
            org=org or None,
            page=page_no,
            size=PAGE_SIZE,
        )
        roles = service.list_roles(session, page.principal)
    return page.render(
        "users/users.html",
        items=items,
        total=total,
        page_no=page_no,
        size=PAGE_SIZE,
        q=q or "",
        org=org or "",
        orgs=_orgs(page),
        roles=roles,
    )


def _user_form(page: Page, user: object | None, error: str | None, status: int = 200) -> Response:
    with page.session() as session:
        roles = service.list_roles(session, page.principal)
    return page.render(
        "users/user_form.html", status=status, user=user, roles=roles, orgs=_orgs(page), error=error
    )


@router.get("/system/users/new")
def new_user(page: SystemView) -> Response:
    page.principal.require("system:write")
    return _user_form(page, None, None)


@router.get("/system/users/{user_id}")
def edit_user(page: SystemView, user_id: int) -> Response:
    with page.session() as session:
        user = service.get_user(session, page.principal, user_id, page.now())
    return _user_form(page, user, None)


@router.post("/system/users/new")
async def create_user(request: Request, page: SystemView) -> Response:
    form = await request.form()
    fields = {
        "username": str(form.get("username", "")),
        "number": str(form.get("number", "")) or None,
        "name": str(form.get("name", "")),
        "org": str(form.get("org", "")) or None,
        "roles": [str(r) for r in form.getlist("roles")],
        "password": str(form.get("password", "")),
    }

    def work() -> Response:
        try:
            data = UserIn.model_validate(fields)
            with page.session() as session:
                user = service.create_user(session, page.principal, data, page.now())
        except (ValidationError, Invalid, CoalwatchError) as exc:
            if isinstance(exc, CoalwatchError) and exc.status == 403:
                raise
            draft = {**fields, "id": None}
            return _user_form(page, draft, error_text(exc, page._), status=422)
        return page.redirect("/system/users", page._("用户已增加") + f": {user.username}")

    return await run_in_threadpool(work)


@router.post("/system/users/{user_id}")
async def update_user(request: Request, page: SystemView, user_id: int) -> Response:
    form = await request.form()
    fields = {
        "number": str(form.get("number", "")) or None,
        "name": str(form.get("name", "")),
        "org": str(form.get("org", "")) or None,
        "roles": [str(r) for r in form.getlist("roles")],
        "active": form.get("active") == "on",
        "password": str(form.get("password", "")) or None,
        "unlock": form.get("unlock") == "on",
    }

    def work() -> Response:
        try:
            data = UserUpdate.model_validate(fields)
            with page.session() as session:
                user = service.update_user(session, page.principal, user_id, data, page.now())
        except (ValidationError, CoalwatchError) as exc:
            if isinstance(exc, CoalwatchError) and exc.status in (403, 404):
                raise
            with page.session() as session:
                current = service.get_user(session, page.principal, user_id, page.now())
            return _user_form(page, current, error_text(exc, page._), status=422)
        return page.redirect("/system/users", page._("用户已保存") + f": {user.username}")

    return await run_in_threadpool(work)


@router.post("/system/users-delete")
async def delete_users(request: Request, page: SystemView) -> Response:
    form = await request.form()
    ids = [int(v) for v in form.getlist("ids") if isinstance(v, str) and v.isdigit()]

    def work() -> Response:
        with page.session() as session:
            count = service.delete_users(session, page.principal, ids, page.now())
        return page.redirect("/system/users", page._("已删除 %(n)s 个用户") % {"n": count})

    return await run_in_threadpool(work)


# ---- roles 权限设置 ------------------------------------------------------------------------


@router.get("/system/roles")
def roles_page(page: SystemView, role: str | None = None) -> Response:
    with page.session() as session:
        roles = service.list_roles(session, page.principal)
    current = next((r for r in roles if r.code == role), roles[0] if roles else None)
    return page.render("users/roles.html", roles=roles, current=current, menus=MENUS, ALL=ALL)


@router.post("/system/roles")
async def save_role(request: Request, page: SystemView) -> Response:
    """Save the checkbox matrix of a role (or create a role)."""
    form = await request.form()
    code = str(form.get("code", "")).strip()
    name = str(form.get("name", "")).strip()
    permissions = [str(p) for p in form.getlist("permissions")]
    is_new = form.get("new") == "1"

    def work() -> Response:
        try:
            with page.session() as session:
                if is_new:
                    service.create_role(
                        session,
                        page.principal,
                        RoleIn(code=code, name=name, permissions=permissions),
                        page.now(),
                    )
                else:
                    service.update_role(
                        session,
                        page.principal,
                        code,
                        RoleUpdate(name=name, permissions=permissions),
                        page.now(),
                    )
        except (ValidationError, Invalid) as exc:
            page.flash(error_text(exc, page._), "error")
            return page.redirect("/system/roles" + ("" if is_new else f"?role={code}"))
        return page.redirect(f"/system/roles?role={code}", page._("权限已保存") + f": {name}")

    return await run_in_threadpool(work)


@router.post("/system/roles/{code}/delete")
def delete_role(page: SystemView, code: str) -> Response:
    with page.session() as session:
        service.delete_role(session, page.principal, code, page.now())
    return page.redirect("/system/roles", page._("角色已删除"))
