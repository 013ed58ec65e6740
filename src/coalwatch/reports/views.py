"""Pages of 报表管理: the daily monitoring report with its signatures (监测日报表), shift and
period reports (班报表, 旬/月/季/年报表) and the reports waiting for a signature (报表审签)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import Response

from coalwatch.domain.reports import SIGNER_LABELS, SIGNING_ORDER, Signer
from coalwatch.orgs import repository as org_repository
from coalwatch.reports import service
from coalwatch.reports.api import daily_answer, period_answer
from coalwatch.reports.schemas import PeriodKind
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
ReportPage = Annotated[Page, Depends(need("report:view"))]
Code = Annotated[str | None, Query(max_length=64)]
KIND_LABELS = {
    "shift": "班报表",
    "dekad": "旬报表",
    "month": "月报表",
    "quarter": "季报表",
    "year": "年报表",
}


def _mines(page: Page) -> list[tuple[str, str]]:
    with page.session() as session:
        return [
            (m.code, m.name)
            for m, _ in org_repository.mines_under(session, page.principal.scope_path)
        ]


def _units(page: Page) -> list[tuple[str, str]]:
    with page.session() as session:
        return [
            (o.code, o.name) for o in org_repository.orgs_under(session, page.principal.scope_path)
        ]


@router.get("/reports/daily")
def daily(page: ReportPage, mine: Code = None, day: date | None = None) -> Response:
    """监测日报表: a day's report (yesterday by default), its signatures and sign buttons."""
    mines = _mines(page)
    mine = mine or (mines[0][0] if mines else None)
    today = page.now().astimezone(page.state.settings.tz).date()
    day = day or today - timedelta(days=1)
    report = None
    may_sign: dict[str, bool] = {}
    if mine:
        with page.session() as session:
            report = service.daily(session, page.principal, mine, day.isoformat(), page.now())
            may_sign = {
                role.value: service.may_sign_as(session, page.principal, role)
                for role in SIGNING_ORDER
            }
    base = f"/reports/daily/{mine}/{day.isoformat()}."
    return page.render(
        "reports/daily.html",
        report=report,
        mine=mine or "",
        mines=mines,
        day=day,
        signers=[(role.value, SIGNER_LABELS[role]) for role in SIGNING_ORDER],
        may_sign=may_sign,
        export_url=base,
    )


@router.post("/reports/daily/sign")
def sign(
    page: ReportPage,
    mine: Annotated[str, Form(max_length=64)],
    day: Annotated[date, Form()],
    role: Annotated[Signer, Form()],
) -> Response:
    """审阅签字: the server checks ``report:sign``, the role and the order."""
    with page.session() as session:
        service.sign(session, page.principal, mine, day.isoformat(), role, page.now())
    return page.redirect(
        "/reports/daily?" + urlencode({"mine": mine, "day": day.isoformat()}),
        page._("已签字") + f" · {page._(SIGNER_LABELS[role])}",
    )


@router.post("/reports/daily/regenerate")
def regenerate(
    page: ReportPage,
    mine: Annotated[str, Form(max_length=64)],
    day: Annotated[date, Form()],
) -> Response:
    with page.session() as session:
        report = service.regenerate(session, page.principal, mine, day.isoformat(), page.now())
    return page.redirect(
        "/reports/daily?" + urlencode({"mine": mine, "day": day.isoformat()}),
        page._("已重新生成") + f" · r{report.revision}",
    )


def _default_key(kind: str, today: date) -> str:
    if kind == "shift":
        return today.isoformat()
    if kind == "dekad":
        return f"{today:%Y-%m}-{min(3, (today.day - 1) // 10 + 1)}"
    if kind == "month":
        return f"{today:%Y-%m}"
    if kind == "quarter":
        return f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return str(today.year)


@router.get("/reports/period")
def period(
    page: ReportPage,
    kind: PeriodKind = "month",
    key: Annotated[str | None, Query(max_length=16)] = None,
    mine: Code = None,
    org: Code = None,
    shift: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """班报表, 旬/月/季/年报表: per mine (rows: hours, days, months) or per unit (per mine)."""
    mines, units = _mines(page), _units(page)
    if not mine and not org:
        mine = mines[0][0] if mines else None
    today = page.now().astimezone(page.state.settings.tz).date()
    key = key or _default_key(kind, today)
    report = None
    with page.session() as session:
        if mine:
            report = service.mine_period(
                session, page.principal, mine, kind, key, page.now(), shift or None
            )
        elif org:
            report = service.org_period(
                session, page.principal, org, kind, key, page.now(), page.state.settings.tz,
                shift or None,
            )  # fmt: skip
    scope = f"mines/{mine}" if mine else f"orgs/{org}"
    return page.render(
        "reports/period.html",
        report=report,
        kind=kind,
        key=key,
        mine=mine or "",
        org=org or "",
        shift=shift or "",
        mines=mines,
        units=units,
        kinds=KIND_LABELS,
        export_url=f"/reports/{scope}/{kind}/{key}.",
        export_query="?" + urlencode({"shift": shift}) if shift else "",
    )


@router.get("/reports/pending")
def pending(page: ReportPage) -> Response:
    """报表审签: the reports waiting for a signature the user may give."""
    with page.session() as session:
        items = service.pending(session, page.principal)
    return page.render(
        "reports/pending.html",
        items=items,
        labels={role.value: SIGNER_LABELS[role] for role in SIGNING_ORDER},
    )


# ---- downloads: the same files as the API gives, for the signed-in browser -----------------
# (the API takes tokens only; these read-only GETs use the page's session)


@router.get("/reports/daily/{mine}/{day}.{fmt}")
def daily_file(
    page: ReportPage,
    mine: Annotated[str, Path(max_length=64)],
    day: date,
    fmt: Literal["pdf", "xlsx", "html"],
) -> Response:
    with page.session() as session:
        report = service.daily(session, page.principal, mine, day.isoformat(), page.now())
    answer = daily_answer(report, fmt)
    assert isinstance(answer, Response)
    return answer


@router.get("/reports/{scope}/{code}/{kind}/{key}.{fmt}")
def period_file(
    page: ReportPage,
    scope: Literal["mines", "orgs"],
    code: Annotated[str, Path(max_length=64)],
    kind: PeriodKind,
    key: Annotated[str, Path(max_length=16)],
    fmt: Literal["pdf", "xlsx", "csv", "html"],
    shift: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    with page.session() as session:
        if scope == "mines":
            report = service.mine_period(
                session, page.principal, code, kind, key, page.now(), shift
            )
        else:
            report = service.org_period(
                session, page.principal, code, kind, key, page.now(), page.state.settings.tz,
                shift,
            )  # fmt: skip
    answer = period_answer(report, fmt)
    assert isinstance(answer, Response)
    return answer
