"""Pages of 报警处理 (the console: acknowledge and handle) and 报警查询 (the query)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from coalwatch.alarms import service, thresholds
from coalwatch.alarms.schemas import AlarmView, HandleIn
from coalwatch.domain.alarms import (
    LABELS,
    LEGAL_LIMITS,
    SEVERITY_LABELS,
    STATE_LABELS,
    THRESHOLD_LABELS,
    Severity,
    compose_detail,
    figure_unit,
    shown_figure,
    split_figure,
)
from coalwatch.domain.authority import ORG_KIND_LABELS
from coalwatch.errors import CoalwatchError, Invalid
from coalwatch.limits import service as legal
from coalwatch.mines import repository as mine_repository
from coalwatch.orgs import repository as org_repository
from coalwatch.web.exports import Cell, csv_response, xlsx_response
from coalwatch.web.listing import local, stamped
from coalwatch.web.pages import Page, error_text, need

router = APIRouter(include_in_schema=False)
AlarmPage = Annotated[Page, Depends(need("alarm:view"))]
QueryPage = Annotated[Page, Depends(need("query:view"))]
Text = Annotated[str | None, Query(max_length=64)]
PAGE_SIZE = 30
STATES = ("todo", "open", "active", "acknowledged", "handled", "closed")


def _bounds(page: Page, first: date | None, last: date | None) -> tuple[datetime | None, ...]:
    tz = page.state.settings.tz
    start = None if first is None else datetime.combine(first, time(), tz)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(), tz)
    if start is not None and end is not None and end <= start:
        raise Invalid(page._("结束日期不能早于开始日期"))
    return start, end


def _mines(page: Page) -> list[tuple[str, str]]:
    with page.session() as session:
        return [
            (mine.code, mine.name)
            for mine, _ in org_repository.mines_under(session, page.principal.scope_path)
        ]


def _filters(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v not in (None, "")}


@router.get("/alarms/bell")
def bell(page: AlarmPage) -> Response:
    with page.session() as session:
        count, newest = service.bell(session, page.principal)
    return page.render("alarms/_bell.html", count=count, newest=newest or 0)


@router.get("/alarms")
def console(
    page: AlarmPage,
    mine: Text = None,
    severity: Text = None,
    type: Text = None,
    todo: bool = False,
    state: Text = None,
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
) -> Response:
    """当前报警 / 报警确认与处理: open alarms with their acknowledge and handle actions."""
    chosen = state if state in STATES else ("todo" if todo else "open")
    with page.session() as session:
        items, total = service.browse(
            session,
            page.principal,
            mine=mine or None,
            severity=severity or None,
            type_=type or None,
            state=chosen,
            page=page_no,
            size=PAGE_SIZE,
        )
    filters = _filters(mine=mine, severity=severity, type=type, state=chosen)
    return page.render(
        "alarms/console.html",
        items=items,
        total=total,
        page_no=page_no,
        size=PAGE_SIZE,
        filters=filters,
        base_url="/alarms?" + urlencode(filters) + "&",
        mines=_mines(page),
        types=[(t.value, label) for t, label in LABELS.items()],
        severities=[s.value for s in Severity],
        state=chosen,
    )


@router.get("/alarms/rows")
def console_rows(
    page: AlarmPage,
    mine: Text = None,
    severity: Text = None,
    type: Text = None,
    state: Text = "open",
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
) -> Response:
    """The console's table body, refreshed when an alarm changes."""
    with page.session() as session:
        items, total = service.browse(
            session,
            page.principal,
            mine=mine or None,
            severity=severity or None,
            type_=type or None,
            state=state if state in STATES else "open",
            page=page_no,
            size=PAGE_SIZE,
        )
    return page.render("alarms/_rows.html", items=items, total=total)


def _row(page: Page, alarm: AlarmView, message: str) -> Response:
    if page.request.headers.get("hx-request"):
        page.flash(message)
        return page.render("alarms/_row_swap.html", a=alarm)
    return page.redirect(page.request.headers.get("referer") or "/alarms", message)


@router.post("/alarms/{alarm_id}/ack")
def acknowledge(page: AlarmPage, alarm_id: int) -> Response:
    """确认: the server refuses without ``alarm:write`` (403)."""
    with page.session() as session:
        service.acknowledge(session, page.principal, alarm_id, page.now())
        alarm = service.get_alarm(session, page.principal, alarm_id)
    return _row(page, alarm, page._("报警已确认") + f" #{alarm_id}")


#: alarms acknowledged in one request at most (a page holds PAGE_SIZE)
BULK_LIMIT = 200


@router.post("/alarms/ack")
def acknowledge_selected(
    page: AlarmPage, ids: Annotated[list[int] | None, Form(max_length=BULK_LIMIT)] = None
) -> Response:
    """确认所选: the checked alarms in one action, all or none (``alarm:write``)."""
    back = page.request.headers.get("referer") or "/alarms"
    with page.session() as session:  # the permission is checked even when none is ticked
        done = service.acknowledge_many(session, page.principal, ids or [], page.now())
    if not done:
        page.flash(page._("请先选择要确认的报警"), "error")
        return page.redirect(back)
    return page.redirect(back, page._("已确认 %(count)d 条报警") % {"count": len(done)})


@router.post("/alarms/{alarm_id}/handle")
def handle(
    page: AlarmPage, alarm_id: int, result: Annotated[str, Form(max_length=4000)] = ""
) -> Response:
    """处理: the result text is required and recorded (``alarm:handle``)."""
    try:
        data = HandleIn(result=result.strip())
    except ValidationError as exc:
        raise Invalid(page._("请填写处理结果")) from exc
    with page.session() as session:
        service.handle(session, page.principal, alarm_id, data, page.now())
        alarm = service.get_alarm(session, page.principal, alarm_id)
    return _row(page, alarm, page._("处理结果已记录") + f" #{alarm_id}")


# ---- 报警查询 ------------------------------------------------------------------------------

EXPORT_LIMIT = 10_000


@router.get("/query/alarms")
def query(
    page: QueryPage,
    mine: Text = None,
    severity: Text = None,
    type: Text = None,
    state: Text = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
    format: Annotated[str | None, Query(pattern="^(csv|xlsx)$")] = None,
) -> Response:
    begin, finish = _bounds(page, start, end)
    chosen = state if state in STATES else None
    size = EXPORT_LIMIT if format else PAGE_SIZE
    with page.session() as session:
        items, total = service.browse(
            session,
            page.principal,
            mine=mine or None,
            severity=severity or None,
            type_=type or None,
            state=chosen,
            start=begin,
            end=finish,
            page=1 if format else page_no,
            size=size,
        )
    if format:
        return _export(page, items, format)
    filters = _filters(
        mine=mine,
        severity=severity,
        type=type,
        state=chosen,
        **{"from": start.isoformat() if start else None, "to": end.isoformat() if end else None},
    )
    return page.render(
        "alarms/query.html",
        items=items,
        total=total,
        page_no=page_no,
        size=PAGE_SIZE,
        filters=filters,
        base_url="/query/alarms?" + urlencode(filters) + "&",
        export_url="/query/alarms?" + urlencode(filters) + "&format=",
        mines=_mines(page),
        types=[(t.value, label) for t, label in LABELS.items()],
        severities=[s.value for s in Severity],
    )


def _export(page: Page, items: list[AlarmView], format: str) -> Response:
    """The alarms as a sheet in the reader's language: labels for the codes (severity,
    type, state), figures as numbers with their unit, the detail composed."""
    _ = page._
    header = [
        _("编号"), _("级别"), _("类型"), _("矿井"), _("计量点"), _("开始时间"), _("结束时间"),
        _("数值"), _("阈值"), _("单位"), _("状态"), _("确认人"), _("确认时间"), _("处理人"),
        _("处理时间"), _("处理结果"), _("说明"),
    ]  # fmt: skip

    def figure(text: str | None) -> Decimal | str | None:
        found = split_figure(text)
        return found[0] if found is not None else shown_figure(text, _)

    def label(labels: dict[str, str], code: str) -> str:
        return _(labels[code]) if code in labels else code

    rows: list[list[Cell]] = [
        [
            a.id,
            label(SEVERITY_LABELS, a.severity),
            page.label(a.label),
            a.mine_name,
            a.point,
            local(page, a.start),
            local(page, a.end),
            figure(a.value),
            figure(a.threshold),
            figure_unit(a.type, a.value, _),
            label(STATE_LABELS, a.state),
            a.acknowledged_by,
            local(page, a.acknowledged_at),
            a.handled_by,
            local(page, a.handled_at),
            a.result,
            compose_detail(a.params, _) or a.detail,
        ]
        for a in items
    ]
    name = stamped(page, _("报警查询"))
    if format == "csv":
        return csv_response(name, header, rows)
    return xlsx_response(name, _("报警"), header, rows)


# ---- 系统参数: settings and rule thresholds --------------------------------------------------

SystemPage = Annotated[Page, Depends(need("system:view"))]


@router.get("/system/params")
def params(page: SystemPage, mine: Text = None, point: Text = None) -> Response:
    """系统参数: the deployment's settings and the alarm thresholds of a mine or point."""
    mines = _mines(page)
    code = mine or (mines[0][0] if mines else None)
    values = None
    limits = None
    levels: list[tuple[str, str, str]] = []
    points: list[tuple[str, str]] = []
    if code:
        with page.session() as session:
            values = thresholds.show(session, page.principal, code, point or None)
            limits = legal.mine_limits(session, page.principal, code)
            levels = [
                (o.code, o.name, o.kind)
                for o in legal.deciding_levels(session, page.principal, code)
            ]
            points = [
                (p.code, p.name)
                for p in mine_repository.points_of(session, [_mine_id(session, page, code)])
            ]
    settings = page.state.settings
    shown = [
        ("部署时区", settings.timezone),
        ("主站时钟允许偏差 (秒)", settings.clock_skew_s),
        ("定时规则周期 (秒)", settings.jobs_interval_s),
        ("会话有效期 (小时)", settings.session_hours),
        ("登录失败锁定次数", settings.login_max_failures),
        ("锁定时长 (分钟)", settings.lockout_minutes),
        ("密码有效期 (天)", settings.password_max_age_days or "—"),
        ("默认语言", settings.default_locale),
    ]
    return page.render(
        "alarms/params.html",
        settings=shown,
        mines=mines,
        mine=code or "",
        point=point or "",
        points=points,
        values=values,
        labels=THRESHOLD_LABELS,
        limits=limits,
        levels=levels,
        legal=LEGAL_LIMITS,
        kinds=ORG_KIND_LABELS,
    )


def _mine_id(session: Any, page: Page, code: str) -> int:
    from coalwatch.mines.service import visible_mine

    return visible_mine(session, page.principal, code)[0].id


def _save_whole(
    page: Page, back: str, value: str, act: Callable[[Session, int | None], object], done: str
) -> Response:
    """A threshold or limit typed on 系统参数: a non-negative whole number, or empty for
    the default; a refusal other than 403 comes back as a message on the page."""
    value = value.strip()
    if value and not value.isdigit():
        page.flash(page._("阈值须为非负整数"), "error")
        return page.redirect(back)
    try:
        with page.session() as session:
            act(session, int(value) if value else None)
    except (ValidationError, CoalwatchError) as exc:
        if isinstance(exc, CoalwatchError) and exc.status in (401, 403):
            raise
        page.flash(error_text(exc, page._), "error")
        return page.redirect(back)
    return page.redirect(back, done)


@router.post("/system/params/{mine}")
def set_threshold(
    page: SystemPage,
    mine: str,
    name: Annotated[str, Form(max_length=64)],
    value: Annotated[str, Form(max_length=20)] = "",
    point: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    back = f"/system/params?{urlencode({'mine': mine, **({'point': point} if point else {})})}"

    def act(session: Session, number: int | None) -> object:
        data = thresholds.ThresholdIn(point=point or None, name=name, value=number)
        return thresholds.set_threshold(session, page.principal, mine, data, page.now())

    return _save_whole(page, back, value, act, page._("阈值已保存"))


@router.post("/system/limits")
def set_limit(
    page: SystemPage,
    org: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=64)],
    mine: Annotated[str, Form(max_length=64)],
    value: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """法定时限: a supervising unit shortens a legal limit for its subtree (empty: back to
    the level above's)."""

    def act(session: Session, number: int | None) -> object:
        return legal.set_limit(session, page.principal, org, name, number, page.now())

    back = f"/system/params?{urlencode({'mine': mine})}"
    return _save_whole(page, back, value, act, page._("法定时限已保存"))
