"""Pages of 结算管理: 收费项目 (fee items and their effective-dated rates) and 月结算单 (a
month's statements per mine: the list of a unit's mines, one mine's statement to show,
print, and download as PDF, XLSX or CSV through the session).

Every read and change goes through the settlement service, which checks the permission
(``settlement:view`` / ``settlement:write``) and the data scope.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from coalwatch.domain.settlement import Rate, rate_on
from coalwatch.orgs import service as orgs
from coalwatch.schemas import Code
from coalwatch.settlement import service
from coalwatch.settlement.api import statement_file
from coalwatch.settlement.schemas import FeeItemIn, FeeItemOut, FeeRateIn, OrgStatementRow
from coalwatch.web.exports import Cell
from coalwatch.web.forms import submit
from coalwatch.web.listing import PAGE_SIZE, Format, PageNo, export, local, paging
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
SettlementPage = Annotated[Page, Depends(need(service.VIEW))]
Text = Annotated[str | None, Query(max_length=64)]
MonthQuery = Annotated[str | None, Query(max_length=7)]
MonthPath = Annotated[str, Path(max_length=7)]
DocumentFormat = Annotated[str | None, Query(pattern="^(csv|xlsx|pdf)$")]
ITEMS_URL = "/settlement/items"
STATEMENTS_URL = "/settlement/statements"


def _link(base: str, filters: dict[str, str]) -> str:
    """``base`` with the filters given, ready for one more ``name=value`` to be appended."""
    kept = {k: v for k, v in filters.items() if v}
    return f"{base}?{urlencode(kept)}&" if kept else f"{base}?"


# ---- 收费项目 -------------------------------------------------------------------------------


def _in_force(item: FeeItemOut, today: date) -> Decimal | None:
    return rate_on([Rate(r.effective_from, r.yuan_per_t) for r in item.rates], today)


@router.get(ITEMS_URL)
def items_page(
    page: SettlementPage, q: Text = None, page_no: PageNo = 1, format: Format = None
) -> Response:
    """收费项目: every fee item with its rate in force today and all rates given."""
    with page.session() as session:
        every = service.list_items(session, page.principal)
    items = every
    needle = (q or "").strip().lower()
    if needle:
        items = [i for i in items if needle in i.code.lower() or needle in i.name.lower()]
    if format:
        _ = page._
        header = [
            _("编码"), _("名称"), _("说明"), _("费率 (元/t)"), _("生效日期"), _("登记人"),
            _("登记时间"),
        ]  # fmt: skip
        rows: list[list[Cell]] = [
            [
                i.code,
                i.name,
                i.description,
                r.yuan_per_t,
                r.effective_from,
                r.created_by,
                local(page, r.created_at),
            ]
            for i in items
            for r in i.rates
        ]
        return export(page, _("收费项目"), header, rows, format)
    today = page.now().astimezone(page.state.settings.tz).date()
    start = (page_no - 1) * PAGE_SIZE
    link = _link(ITEMS_URL, {"q": needle})
    return page.render(
        "settlement/items.html",
        items=items[start : start + PAGE_SIZE],
        all_items=every,
        total=len(items),
        in_force={i.code: _in_force(i, today) for i in items},
        q=q or "",
        export_url=link + "format=",
        **paging(page_no, link),
    )


@router.post(ITEMS_URL)
async def create_item(page: SettlementPage) -> Response:
    def action(session: Session, data: FeeItemIn) -> None:
        service.create_item(session, page.principal, data, page.now())

    return await submit(page, FeeItemIn, action, back=ITEMS_URL, done=page._("收费项目已增加"))


class RateForm(FeeRateIn):
    item: Code


@router.post(f"{ITEMS_URL}/rates")
async def add_rate(page: SettlementPage) -> Response:
    def action(session: Session, data: RateForm) -> None:
        rate = FeeRateIn(yuan_per_t=data.yuan_per_t, effective_from=data.effective_from)
        service.add_rate(session, page.principal, data.item, rate, page.now())

    return await submit(page, RateForm, action, back=ITEMS_URL, done=page._("费率已登记"))


# ---- 月结算单 -------------------------------------------------------------------------------


def _last_month(page: Page) -> str:
    """The month before today's (deployment time zone): the one usually settled."""
    today = page.now().astimezone(page.state.settings.tz).date()
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _units(page: Page) -> list[tuple[str, str, int]]:
    with page.session() as session:
        return orgs.unit_tree(session, page.principal)


@router.get(STATEMENTS_URL)
def statements_page(
    page: SettlementPage,
    month: MonthQuery = None,
    org: Text = None,
    mine: Text = None,
    page_no: PageNo = 1,
    format: Format = None,
) -> Response:
    """月结算单: a unit's mines in a month (last month by default), one row per mine with
    its amount per fee item; each row opens the mine's statement."""
    month = month or _last_month(page)
    service.parse_month(month)
    units = _units(page)
    org = org or (units[0][0] if units else None)
    statement = None
    rows: list[OrgStatementRow] = []
    if org:
        with page.session() as session:
            statement = service.org_statement(session, page.principal, org, month, page.now())
        needle = (mine or "").strip().lower()
        rows = [
            r
            for r in statement.mines
            if not needle or needle in r.mine.lower() or needle in r.name.lower()
        ]
    if format:
        return _export_statements(page, month, statement, rows, format)
    start = (page_no - 1) * PAGE_SIZE
    link = _link(STATEMENTS_URL, {"month": month, "org": org or "", "mine": mine or ""})
    return page.render(
        "settlement/statements.html",
        month=month,
        org=org or "",
        mine=mine or "",
        units=units,
        statement=statement,
        rows=rows[start : start + PAGE_SIZE],
        total=len(rows),
        export_url=link + "format=",
        **paging(page_no, link),
    )


def _export_statements(
    page: Page, month: str, statement: Any, rows: list[OrgStatementRow], format: str
) -> Response:
    _ = page._
    items = statement.items if statement else []
    header = [
        _("矿井编码"), _("矿井"), _("毛煤 (t)"), _("原煤 (t)"), _("其中人工 (t)"),
        *[f"{i.name} ({_('元')})" for i in items], _("合计 (元)"),
    ]  # fmt: skip
    table: list[list[Cell]] = [
        [r.mine, r.name, r.gross_t, r.raw_t, r.manual_t, *[a.amount for a in r.amounts], r.total]
        for r in rows
    ]
    return export(page, f"{_('月结算单')}-{month}", header, table, format)


@router.get(STATEMENTS_URL + "/{mine}/{month}")
def statement_page(
    page: SettlementPage,
    mine: Annotated[str, Path(max_length=64)],
    month: MonthPath,
    format: DocumentFormat = None,
) -> Response:
    """A mine's 月结算单: the basis, one line per fee item and rate, the total; printed
    from the browser or downloaded (the same documents as the API's)."""
    with page.session() as session:
        statement = service.statement(session, page.principal, mine, month, page.now())
    if format:
        return statement_file(statement, format)
    return page.render(
        "settlement/statement.html",
        statement=statement,
        back=_link(STATEMENTS_URL, {"month": statement.month, "org": statement.org}),
        export_url=f"{STATEMENTS_URL}/{statement.mine}/{statement.month}?format=",
    )
