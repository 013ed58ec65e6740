"""区域监管 over the API: the ranking by capacity ratio, the daily reports' status and
the faults and reports overdue of an org's subtree (permission ``region:view``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query

from coalwatch.domain.periods import Period
from coalwatch.region import service
from coalwatch.region.schemas import Ranking, RegionFaults, RegionProduction, ReportStateList
from coalwatch.web.context import Ctx
from coalwatch.wire.types import Day, Moment

router = APIRouter(tags=["region"])
From = Annotated[Moment, Query(alias="from")]
To = Annotated[Moment, Query(alias="to")]
View = TypeVar("View")


def _over_range(
    ctx: Ctx, figures: Callable[..., View], org: str, period: Period, start: Moment, end: Moment
) -> View:
    """``service.region_production`` or ``service.ranking`` of the org over [start, end)."""
    with ctx.session() as session:
        return figures(
            session, ctx.principal(session), org, period, start, end, ctx.now(), ctx.settings.tz
        )


@router.get(
    "/orgs/{org}/region-production",
    summary="辖区产量: the subtree's total, a subtotal per sub-region and a row per mine",
)
def region_production(org: str, period: Period, ctx: Ctx, start: From, end: To) -> RegionProduction:
    return _over_range(ctx, service.region_production, org, period, start, end)


@router.get(
    "/orgs/{org}/ranking",
    summary="超产排名: the subtree's mines by capacity ratio over a range, with open alarms",
)
def ranking(org: str, period: Period, ctx: Ctx, start: From, end: To) -> Ranking:
    return _over_range(ctx, service.ranking, org, period, start, end)


@router.get(
    "/orgs/{org}/report-status",
    summary="Each mine's daily report of a day: submitted 已上报, pending or overdue",
    description=(
        "A day's report is overdue when it is not signed by all three and submitted by "
        "`report_deadline_hour` (default 10:00) of the next day, mine-local. A mine whose own "
        "center forwards to this one counts as submitted when its signed report arrived."
    ),
)
def report_status(org: str, day: Day, ctx: Ctx) -> ReportStateList:
    with ctx.session() as session:
        return service.report_states(
            session,
            ctx.principal(session),
            org,
            day,
            ctx.now(),
            ctx.settings.report_deadline_hour,
        )


@router.get(
    "/orgs/{org}/overdue",
    summary="故障与上报: open faults, faults not reported in time, yesterday's reports overdue",
)
def overdue(org: str, ctx: Ctx) -> RegionFaults:
    with ctx.session() as session:
        return service.region_faults(
            session,
            ctx.principal(session),
            org,
            ctx.now(),
            ctx.settings.tz,
            ctx.settings.report_deadline_hour,
        )
