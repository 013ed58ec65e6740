from __future__ import annotations

from fastapi import APIRouter

from coalwatch.signals import service
from coalwatch.signals.schemas import SignalTypesIn, SignalTypesOut
from coalwatch.web.context import Ctx

router = APIRouter(tags=["signals"])


@router.get(
    "/mines/{mine}/signal-types",
    summary="The alarm types that sound the mine's beacons at the outlets (声光预警)",
)
def mine_types(mine: str, ctx: Ctx) -> SignalTypesOut:
    with ctx.session() as session:
        return service.mine_types(session, ctx.principal(session), mine)


@router.put(
    "/mines/{mine}/signal-types",
    summary="Choose them for one mine (a supervising unit, region:limits)",
)
def choose_for_mine(mine: str, data: SignalTypesIn, ctx: Ctx) -> SignalTypesOut:
    with ctx.session() as session:
        return service.choose(session, ctx.principal(session), data, ctx.now(), mine_code=mine)


@router.put(
    "/orgs/{org}/signal-types",
    summary="Choose them for an org's subtree (a supervising unit, region:limits)",
)
def choose_for_org(org: str, data: SignalTypesIn, ctx: Ctx) -> SignalTypesOut:
    with ctx.session() as session:
        return service.choose(session, ctx.principal(session), data, ctx.now(), org_code=org)
