"""Page of 系统设置: 接口令牌 (the API tokens of scripts and third parties).

A new token's secret is shown once, in the answer to the form that made it: it is never
stored (only its digest), never put in the session cookie and never shown again.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from coalwatch.auth import service
from coalwatch.errors import N_, CoalwatchError, Invalid
from coalwatch.orgs import service as orgs
from coalwatch.web.pages import Page, act, error_text, need

router = APIRouter(include_in_schema=False)
SystemView = Annotated[Page, Depends(need("system:view"))]

#: the access a token may be given, as the form sends it: (write, third party)
ACCESS: dict[str, tuple[bool, bool]] = {
    "read": (False, False),
    "write": (True, False),
    "third_party": (False, True),
}
#: what the form's answer must not be kept anywhere (a browser's cache, a proxy's)
NO_STORE = {"Cache-Control": "no-store"}
#: the session's key for the forms handed out and not yet sent (a few tabs' worth)
FORMS = "token_forms"
OPEN_FORMS = 5


def _hand_out(page: Page) -> str:
    """A new form's one-time number: the form is sent once, and a reload of the answer
    (the browser sends the form again) makes no second token."""
    number = secrets.token_urlsafe(12)
    handed = [n for n in page.request.session.get(FORMS, []) if isinstance(n, str)]
    page.request.session[FORMS] = [*handed, number][-OPEN_FORMS:]
    return number


def _sent_before(page: Page, number: str) -> bool:
    """The form with this number was sent before (or is too old to tell); a form without
    one (a script's) is taken as it comes: the CSRF token stands for it."""
    if not number:
        return False
    handed = page.request.session.get(FORMS, [])
    if number not in handed:
        return True
    page.request.session[FORMS] = [n for n in handed if n != number]
    return False


def _grantable(page: Page) -> list[str]:
    """The accesses the signed-in user may give a token: no more than they hold."""
    return [
        access
        for access, (write, third_party) in ACCESS.items()
        if all(page.can(p) for p in service.token_permissions(write, third_party))
    ]


def _page(
    page: Page,
    *,
    status: int = 200,
    created: dict[str, str] | None = None,
    draft: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    with page.session() as session:
        tokens = service.list_tokens(session, page.principal)
        units = orgs.unit_tree(session, page.principal)
    names = {code: name for code, name, _ in units}
    writes = page.can("system:write")
    return page.render(
        "auth/tokens.html",
        status=status,
        headers=NO_STORE if created else None,
        tokens=tokens,
        units=units,
        names=names,
        grantable=_grantable(page) if writes else [],
        created=created,
        draft=draft or {"name": "", "scope": "", "access": "read", "rate_limit": ""},
        error=error,
        form_number=_hand_out(page) if writes else "",
        name_length=service.NAME_LENGTH,
    )


@router.get("/system/tokens")
def tokens_page(page: SystemView) -> Response:
    return _page(page)


def _rate_limit(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid(N_("限流须为每分钟的请求次数（整数），或留空为不限"))
    return int(text)


@router.post("/system/tokens")
async def create_token(request: Request, page: SystemView) -> Response:
    form = await request.form()
    draft = {
        key: str(form.get(key, "")).strip() for key in ("name", "scope", "access", "rate_limit")
    }
    if _sent_before(page, str(form.get("form_number", ""))):
        page.flash(page._("这份表单已经提交过（例如刷新了页面）：没有再创建令牌"), "warning")
        return page.redirect("/system/tokens")

    def work() -> Response:
        try:
            if draft["access"] not in ACCESS:
                raise Invalid(N_("权限须为只读、读写或第三方只读"))
            write, third_party = ACCESS[draft["access"]]
            with page.session() as session:
                secret = service.create_token(
                    session,
                    draft["name"],
                    draft["scope"] or None,
                    write,
                    page.now(),
                    third_party=third_party,
                    rate_limit_per_min=_rate_limit(draft["rate_limit"]),
                    by=page.principal,
                )
        except CoalwatchError as exc:
            if exc.status in (401, 403):
                raise
            return _page(page, status=422, draft=draft, error=error_text(exc, page._))
        return _page(page, created={"name": draft["name"], "secret": secret})

    return await run_in_threadpool(work)


@router.post("/system/tokens/{token_id}/revoke")
async def revoke_token(page: SystemView, token_id: int) -> Response:
    def work(session: Session) -> None:
        service.revoke_token(session, page.principal, str(token_id), page.now())

    return await act(page, work, back="/system/tokens", done=page._("令牌已吊销"))
