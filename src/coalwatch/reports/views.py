"""Pages of 报表管理: the daily monitoring report with its signatures (监测日报表), shift and
period reports (班报表, 旬/月/季/年报表) and the reports waiting for a signature (报表审签)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import Response

from coalwatch.domain.reports import DEFAULT_SHIFTS, SIGNER_LABELS, SIGNING_ORDER, Shift, Signer
from coalwatch.errors import N_
from coalwatch.orgs import repository as org_repository
from coalwatch.reports import documents, service, signing
from coalwatch.reports.api import daily_answer, period_answer
from coalwatch.reports.schemas import PeriodKind, PeriodReport, ShiftIn
from coalwatch.web.exports import csv_response
from coalwatch.web.pages import Page, need
from coalwatch.wire.types import FIRST_YEAR, LAST_YEAR

router = APIRouter(include_in_schema=False)
ReportPage = Annotated[Page, Depends(need("report:view"))]
Code = Annotated[str | None, Query(max_length=64)]
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
KIND_LABELS = {
    "shift": N_("班报表"),
    "dekad": N_("旬报表"),
    "month": N_("月报表"),
    "quarter": N_("季报表"),
    "year": N_("年报表"),
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
                role.value: signing.may_sign_as(session, page.principal, role)
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
        page._("已签字") + f" · {page.label(SIGNER_LABELS[role])}",
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


def _key_for(kind: str, day: date, part: int | None = None) -> str:
    """The period key of ``kind`` holding ``day``; ``part``: the 旬 (1–3) or quarter (1–4)
    picked, where it differs from the day's."""
    if kind == "shift":
        return day.isoformat()
    if kind == "dekad":
        return f"{day:%Y-%m}-{part or min(3, (day.day - 1) // 10 + 1)}"
    if kind == "month":
        return f"{day:%Y-%m}"
    if kind == "quarter":
        return f"{day.year}-Q{part or (day.month - 1) // 3 + 1}"
    return str(day.year)


def _picked_day(
    today: date, day: date | None, month: str | None, year: int | None, quarter: int | None
) -> date:
    """The day the pickers point at: a day, else a month's first, else a year's (or its
    quarter's) first, else today."""
    if day is not None:
        return day
    if month is not None:
        return date(int(month[:4]), int(month[5:]), 1)
    if year is not None:
        return date(year, 3 * (quarter or 1) - 2, 1)
    return today


@router.get("/reports/period")
def period(
    page: ReportPage,
    kind: PeriodKind = "month",
    key: Annotated[str | None, Query(max_length=16)] = None,
    mine: Code = None,
    org: Code = None,
    shift: Annotated[str | None, Query(max_length=32)] = None,
    day: Annotated[date | None, Query()] = None,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None,
    dekad: Annotated[int | None, Query(ge=1, le=3)] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None,
) -> Response:
    """班报表, 旬/月/季/年报表: per mine (rows: hours, days, months) or per unit (per mine).

    The period is its ``key`` (``2026-03-2``, as the API takes it), or what the pickers
    give: a day (班), a month and its 旬, a month, a year and its quarter, a year."""
    mines, units = _mines(page), _units(page)
    if not mine and not org:
        mine = mines[0][0] if mines else None
    today = page.now().astimezone(page.state.settings.tz).date()
    if not key:
        picked = _picked_day(today, day, month, year, quarter)
        key = _key_for(kind, picked, dekad if kind == "dekad" else quarter)
    picked = service.period_days(kind, key)[0]
    report = None
    shifts: Sequence[Shift | ShiftIn] = DEFAULT_SHIFTS
    with page.session() as session:
        if mine:
            if kind == "shift":
                shifts = service.get_shifts(session, page.principal, mine).shifts
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
        shifts=shifts,
        mines=mines,
        units=units,
        kinds=KIND_LABELS,
        picked=picked,
        picked_dekad=_key_for("dekad", picked).rsplit("-", 1)[1],
        picked_quarter=_key_for("quarter", picked).rsplit("Q", 1)[1],
        years=(FIRST_YEAR, LAST_YEAR),
        export_url=f"/reports/{scope}/{kind}/{key}.",
        export_query="?" + urlencode({"shift": shift}) if shift else "",
    )


@router.get("/reports/pending")
def pending(page: ReportPage) -> Response:
    """报表审签: the reports waiting for a signature the user may give."""
    with page.session() as session:
        items = service.pending(session, page.principal)
        mine = [r for r in SIGNING_ORDER if signing.may_sign_as(session, page.principal, r)]
    return page.render(
        "reports/pending.html",
        items=items,
        labels={role.value: SIGNER_LABELS[role] for role in SIGNING_ORDER},
        signers=[page.label(SIGNER_LABELS[role]) for role in SIGNING_ORDER],
        my_signers=[page.label(SIGNER_LABELS[role]) for role in mine],
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
    if fmt == "csv":
        return _period_csv(page, report)
    answer = period_answer(report, fmt)
    assert isinstance(answer, Response)
    return answer


def _period_csv(page: Page, report: PeriodReport) -> Response:
    """The report's CSV as its reader opens it in a spreadsheet: the columns named in the
    reader's language (the API's CSV names them by key, for programs)."""
    _ = page._
    header = [
        _("编号"), _("时间") if report.scope == "mine" else _("矿井"), _("毛煤 (t)"),
        _("原煤 (t)"), _("其中人工 (t)"), _("生产能力 (t)"), _("产量计划 (t)"), _("产能比"),
        _("超产"),
    ]  # fmt: skip
    yes_no = {"true": _("是"), "false": _("否")}
    rows = documents.period_csv(report)
    rows[-1][1] = _("合计")
    for row in rows:
        row[-1] = yes_no[str(row[-1])]
    return csv_response(documents.period_filename(report), header, rows)
