from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from coalwatch.domain.periods import Period
from coalwatch.production import service
from coalwatch.production.schemas import OrgProduction, Production, Summary
from coalwatch.web.context import Ctx
from coalwatch.wire.types import Moment

router = APIRouter(tags=["production"])
When = Annotated[Moment, Query(description="ISO 8601 with offset")]


@router.get("/mines/{mine}/summary", summary="This hour, day, month and year up to `at`")
def summary(mine: str, ctx: Ctx, at: When | None = None) -> Summary:
    with ctx.session() as session:
        return service.summary(session, ctx.principal(session), mine, at, ctx.now())


@router.get("/mines/{mine}/production", summary="A mine's production per period")
def mine_production(
    mine: str,
    period: Period,
    ctx: Ctx,
    start: Annotated[Moment, Query(alias="from")],
    end: Annotated[Moment, Query(alias="to")],
    point: Annotated[str | None, Query(description="one metering point only")] = None,
) -> Production:
    with ctx.session() as session:
        return service.mine_production(
            session, ctx.principal(session), mine, period, start, end, ctx.now(), point
        )


@router.get("/orgs/{org}/production", summary="A subtree's production per period, per mine")
def org_production(
    org: str,
    period: Period,
    ctx: Ctx,
    start: Annotated[Moment, Query(alias="from")],
    end: Annotated[Moment, Query(alias="to")],
) -> OrgProduction:
    with ctx.session() as session:
        return service.org_production(
            session, ctx.principal(session), org, period, start, end, ctx.now(), ctx.settings.tz
        )
