from __future__ import annotations

from fastapi import APIRouter

from coalwatch.limits import service
from coalwatch.limits.schemas import LimitIn, LimitsOut
from coalwatch.web.context import Ctx

router = APIRouter(tags=["limits"])


@router.get(
    "/orgs/{org}/limits",
    summary="The legal limits 法定时限 in force for an org's subtree, and who set them",
)
def org_limits(org: str, ctx: Ctx) -> LimitsOut:
    with ctx.session() as session:
        return service.org_limits(session, ctx.principal(session), org)


@router.get(
    "/mines/{mine}/limits",
    summary="The legal limits in force for a mine: the shortest along its orgs",
)
def mine_limits(mine: str, ctx: Ctx) -> LimitsOut:
    with ctx.session() as session:
        return service.mine_limits(session, ctx.principal(session), mine)


@router.put(
    "/orgs/{org}/limits/{name}",
    summary="Shorten a legal limit for an org's subtree (a supervising unit, region:limits)",
    description=(
        "Only a user of a supervising unit (county, city, province) at or above the org, "
        "with `region:limits`, may: 403 otherwise. The value may not exceed the rulebook's "
        "nor what a level above set (422 `不得放宽`); null returns to the level above's."
    ),
)
def set_limit(org: str, name: str, data: LimitIn, ctx: Ctx) -> LimitsOut:
    with ctx.session() as session:
        return service.set_limit(session, ctx.principal(session), org, name, data.value, ctx.now())
