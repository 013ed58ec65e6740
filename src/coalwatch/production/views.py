"""Pages of 数据查询: production per hour, day, month, year (chart, table, CSV/XLSX), the
latest records (实时数据) and the fault records (故障查询)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from coalwatch.domain.alarms import LABELS
from coalwatch.domain.capacity import REDUCTION_LABELS
from coalwatch.domain.periods import Period
from coalwatch.errors import Invalid
from coalwatch.faults import service as faults
from coalwatch.monitor import service as monitor
from coalwatch.monitor.schemas import RecordRow
from coalwatch.orgs import repository as org_repository
from coalwatch.orgs import service as orgs
from coalwatch.production import service
from coalwatch.production.schemas import Figure, PeriodFigure
from coalwatch.web.exports import Cell, csv_response, xlsx_response
from coalwatch.web.listing import Format, PageNo, export, local, paging, stamped, window
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
QueryPage = Annotated[Page, Depends(need("query:view"))]
Code = Annotated[str | None, Query(max_length=64)]
PERIOD_LABELS = {"hour": "时", "day": "日", "month": "月", "year": "年"}


def _default_range(period: Period, today: date) -> tuple[date, date]:
    if period is Period.HOUR:
        return today, today
    if period is Period.DAY:
        return today.replace(day=1), today
    if period is Period.MONTH:
        return date(today.year, 1, 1), date(today.year, 12, 31)
    return date(today.year - 4, 1, 1), date(today.year, 12, 31)


def _choices(page: Page) -> tuple[list[tuple[str, str]], list[tuple[str, str, int]]]:
    with page.session() as session:
        mines = [
            (m.code, m.name)
            for m, _ in org_repository.mines_under(session, page.principal.scope_path)
        ]
        units = orgs.unit_tree(session, page.principal)
    return mines, units


@router.get("/query/production")
def production(
    page: QueryPage,
    mine: Code = None,
    org: Code = None,
    period: Period = Period.DAY,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    format: Annotated[str | None, Query(pattern="^(csv|xlsx)$")] = None,
) -> Response:
    """日/月/年产量查询: a mine's (or a unit's) production per period."""
    tz = page.state.settings.tz
    today = page.now().astimezone(tz).date()
    first, last = _default_range(period, today)
    first, last = start or first, end or last
    if last < first:
        raise Invalid(page._("结束日期不能早于开始日期"))
    mines, units = _choices(page)
    if not mine and not org:
        mine = mines[0][0] if mines else None
    begin = datetime.combine(first, time(), tz)
    finish = datetime.combine(last + timedelta(days=1), time(), tz)
    title = ""
    rows: list[PeriodFigure] = []
    total: Figure | None = None
    per_mine: list[Any] = []
    with page.session() as session:
        if mine:
            result = service.mine_production(
                session, page.principal, mine, period, begin, finish, page.now()
            )
            title = dict(mines).get(mine, mine)
            rows, total = result.items, result.total
        elif org:
            org_result = service.org_production(
                session, page.principal, org, period, begin, finish, page.now(), tz
            )
            title = next((name for code, name, _ in units if code == org), org)
            rows, total, per_mine = org_result.items, org_result.total, org_result.mines
    labels = [page.fmt.period_start(r.start, period.value) for r in rows]
    if format:
        return _export(page, format, title, period, labels, rows, total)
    filters = {
        k: v
        for k, v in {
            "mine": mine or "",
            "org": org or "",
            "period": period.value,
            "from": first.isoformat(),
            "to": last.isoformat(),
        }.items()
        if v
    }
    now = page.now()
    # a period not begun yet has no production to show: a gap, not a zero
    begun = [r.start <= now for r in rows]

    def shown(values: list[float | None]) -> list[float | None]:
        return [v if b else None for v, b in zip(values, begun, strict=True)]

    chart = {
        "x": labels,
        "axes": [{"name": "t"}, {"name": "%", "secondary": True}],
        "series": [
            {
                "name": page._("毛煤"),
                "type": "bar",
                "data": shown([float(r.gross_t) for r in rows]),
            },
            {"name": page._("原煤"), "type": "bar", "data": shown([float(r.raw_t) for r in rows])},
            {
                "name": page._("能力/计划"),
                "type": "line",
                "data": [_yardstick(r) for r in rows],
            },
            {
                "name": page._("产能比"),
                "type": "line",
                "axis": 1,
                "data": shown([None if r.ratio is None else float(r.ratio * 100) for r in rows]),
            },
        ],
    }
    return page.render(
        "production/query.html",
        rows=rows,
        begun=begun,
        labels=labels,
        total=total,
        per_mine=per_mine,
        title=title,
        mine=mine or "",
        org=org or "",
        period=period.value,
        first=first,
        last=last,
        mines=mines,
        units=units,
        chart=chart,
        export_url="/query/production?" + urlencode(filters) + "&format=",
    )


def _yardstick(row: PeriodFigure) -> float | None:
    """What the ratio divides by: the plan, else the capacity."""
    value = row.plan_t if row.plan_t is not None else row.capacity_t
    return None if value is None else float(value)


def _export(
    page: Page,
    format: str,
    title: str,
    period: Period,
    labels: list[str],
    rows: list[PeriodFigure],
    total: Figure | None,
) -> Response:
    _ = page._
    header = [
        _("时间"), _("毛煤 (t)"), _("原煤 (t)"), _("其中人工录入 (t)"), _("生产能力 (t)"),
        _("产量计划 (t)"), _("产能比"), _("超产产量 (t)"),
    ]  # fmt: skip

    def line(label: str, f: Figure) -> list[Any]:
        return [
            label, f.gross_t, f.raw_t, f.manual_t, f.capacity_t, f.plan_t, f.ratio, f.excess_t
        ]  # fmt: skip

    table = [line(label, r) for label, r in zip(labels, rows, strict=True)]
    if total is not None:
        table.append(line(_("合计"), total))
    period_label = page.label(PERIOD_LABELS[period.value])
    name = stamped(page, f"{title}-{period_label}{_('产量')}")
    if format == "csv":
        return csv_response(name, header, table)
    return xlsx_response(
        name, _("产量"), header, table, tonnes_columns=(1, 2, 3, 4, 5, 7), percent_columns=(6,)
    )


@router.get("/query/realtime")
def realtime(
    page: QueryPage,
    mine: Code = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    """实时数据: a mine's records as received, newest first, in a time range (local time;
    the last 24 hours by default), a page at a time or as a download."""
    tz = page.state.settings.tz
    mines, _ = _choices(page)
    mine = mine or (mines[0][0] if mines else None)
    first = start or (page.now().astimezone(tz) - timedelta(days=1)).replace(
        second=0, microsecond=0
    )
    first = first if first.tzinfo else first.replace(tzinfo=tz)
    last = end if end is None or end.tzinfo else end.replace(tzinfo=tz)
    records: list[RecordRow] = []
    total = 0
    shown = window(page_no, format)
    if mine:
        with page.session() as session:
            records, total = monitor.records(
                session, page.principal, mine, first, last, shown["page"], shown["size"]
            )
    if format:
        return _export_records(page, records, format)
    filters = {"mine": mine or "", "from": _minute(first, tz), "to": _minute(last, tz)}
    link = "/query/realtime?" + urlencode({k: v for k, v in filters.items() if v}) + "&"
    return page.render(
        "production/realtime.html",
        mine=mine or "",
        mines=mines,
        records=records,
        total=total,
        filters=filters,
        live=page_no == 1 and last is None,
        export_url=link + "format=",
        **paging(page_no, link),
    )


def _minute(value: datetime | None, tz: ZoneInfo) -> str:
    """An instant as a datetime-local field shows it (local time, to the minute)."""
    return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


RECORD_KINDS = {
    "totalizer": "累计量",
    "trip": "单车/单斗",
    "conveyor": "输煤设备",
    "event": "事件",
    "heartbeat": "心跳",
}


def _export_records(page: Page, records: list[RecordRow], format: str) -> Response:
    _ = page._
    header = [
        _("序号"), _("时间"), _("类型"), _("计量点"), _("累计量/净重 (t)"), _("增量 (t)"),
        _("瞬时流量 (t/h)"), _("输煤设备/事件"), _("备注"),
    ]  # fmt: skip
    rows: list[list[Cell]] = [
        [
            r.seq,
            local(page, r.ts),
            page.label(RECORD_KINDS.get(r.type, r.type)),
            r.point,
            r.value_t,
            r.increment_t,
            r.flow_tph,
            (_("运行") if r.running else _("停止")) if r.running is not None else r.event,
            r.detail,
        ]
        for r in records
    ]
    return export(page, _("实时数据"), header, rows, format)


@router.get("/query/faults")
def fault_list(page: QueryPage, mine: Code = None, open: bool = False) -> Response:
    """故障查询: fault records, their report upward, recovery and capacity reduction."""
    mines, _ = _choices(page)
    with page.session() as session:
        items = faults.list_faults(session, page.principal, mine or None, open, page.now())
    return page.render(
        "production/faults.html",
        items=items,
        mine=mine or "",
        mines=mines,
        open_only=open,
        kinds={t.value: label for t, label in LABELS.items()},
        reduction_states=REDUCTION_LABELS,
    )
