from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from coalwatch.domain.periods import Period
from coalwatch.production import service
from coalwatch.production.schemas import Figure, OrgProduction, Production, Summary
from coalwatch.web.context import Ctx
from coalwatch.web.exports import Cell, csv_response
from coalwatch.web.formats import TableFormatQuery, table_content
from coalwatch.wire.types import Moment

router = APIRouter(tags=["production"])
When = Annotated[Moment, Query(description="ISO 8601 with offset")]

FIGURE_COLUMNS = (
    "gross_t",
    "raw_t",
    "manual_t",
    "capacity_t",
    "approved_capacity_t",
    "plan_t",
    "ratio",
    "over",
    "excess_t",
)
#: the ``start`` of the row that sums the whole range; the ``mine`` of the subtree's rows
TOTAL, ALL_MINES = "total", "*"
MINE_CSV_EXAMPLE = (
    "start," + ",".join(FIGURE_COLUMNS) + "\r\n"
    "2026-03-14T00:00:00+08:00,980.000,935.900,0.000,1000.000,1000.000,,0.9359,false,\r\n"
    "2026-03-15T00:00:00+08:00,412.500,393.938,0.000,1000.000,1000.000,,0.3939,false,\r\n"
    "total,1392.500,1329.838,0.000,2000.000,2000.000,,0.6649,false,\r\n"
)
ORG_CSV_EXAMPLE = (
    "mine,name,start," + ",".join(FIGURE_COLUMNS) + "\r\n"
    "M1,M1 矿,2026-03-15T00:00:00+08:00,412.500,393.938,0.000,1000.000,1000.000,,0.3939,false,\r\n"
    "M1,M1 矿,total,412.500,393.938,0.000,1000.000,1000.000,,0.3939,false,\r\n"
    "*,合计,2026-03-15T00:00:00+08:00,412.500,393.938,0.000,1000.000,1000.000,,0.3939,false,\r\n"
    "*,合计,total,412.500,393.938,0.000,1000.000,1000.000,,0.3939,false,\r\n"
)


def _figure(figure: Figure) -> list[Cell]:
    return [
        figure.gross_t,
        figure.raw_t,
        figure.manual_t,
        figure.capacity_t,
        figure.approved_capacity_t,
        figure.plan_t,
        figure.ratio,
        str(figure.over).lower(),
        figure.excess_t,
    ]


def _period_rows(production: Production) -> list[list[Cell]]:
    rows: list[list[Cell]] = [[item.start, *_figure(item)] for item in production.items]
    if production.total is not None:
        rows.append([TOTAL, *_figure(production.total)])
    return rows


@router.get("/mines/{mine}/summary", summary="This hour, day, month and year up to `at`")
def summary(mine: str, ctx: Ctx, at: When | None = None) -> Summary:
    with ctx.session() as session:
        return service.summary(session, ctx.principal(session), mine, at, ctx.now())


@router.get(
    "/mines/{mine}/production",
    summary="A mine's production per period",
    description="With `format=csv`: a row per period, then the range's total (start `total`).",
    response_model=Production,
    responses={200: table_content(None, MINE_CSV_EXAMPLE)},
)
def mine_production(
    mine: str,
    period: Period,
    ctx: Ctx,
    start: Annotated[Moment, Query(alias="from")],
    end: Annotated[Moment, Query(alias="to")],
    point: Annotated[str | None, Query(description="one metering point only")] = None,
    format: TableFormatQuery = "json",
) -> Production | Response:
    with ctx.session() as session:
        production = service.mine_production(
            session, ctx.principal(session), mine, period, start, end, ctx.now(), point
        )
    if format == "csv":
        return csv_response(
            f"production-{mine}-{period.value}",
            ("start", *FIGURE_COLUMNS),
            _period_rows(production),
        )
    return production


@router.get(
    "/orgs/{org}/production",
    summary="A subtree's production per period, per mine",
    description=(
        "With `format=csv`: per mine a row per period and its total (start `total`), "
        "then the subtree's sums (mine `*`)."
    ),
    response_model=OrgProduction,
    responses={200: table_content(None, ORG_CSV_EXAMPLE)},
)
def org_production(
    org: str,
    period: Period,
    ctx: Ctx,
    start: Annotated[Moment, Query(alias="from")],
    end: Annotated[Moment, Query(alias="to")],
    format: TableFormatQuery = "json",
) -> OrgProduction | Response:
    with ctx.session() as session:
        production = service.org_production(
            session, ctx.principal(session), org, period, start, end, ctx.now(), ctx.settings.tz
        )
    if format == "csv":
        rows: list[list[Cell]] = []
        for mine in production.mines:
            sub = Production(period=production.period, items=mine.items, total=mine.total)
            rows.extend([mine.mine, mine.name, *row] for row in _period_rows(sub))
        rows.extend([ALL_MINES, "合计", *row] for row in _period_rows(production))
        return csv_response(
            f"production-{org}-{period.value}",
            ("mine", "name", "start", *FIGURE_COLUMNS),
            rows,
        )
    return production
