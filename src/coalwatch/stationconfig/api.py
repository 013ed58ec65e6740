from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from coalwatch.events.broker import attach
from coalwatch.stationconfig import service
from coalwatch.stationconfig.schemas import FetchIn, StationConfigIn, StationConfigOut
from coalwatch.storage.session import transaction
from coalwatch.web.context import Ctx, app_state
from coalwatch.wire.station_config import SignedConfig

router = APIRouter(tags=["stations"])


@router.get(
    "/stations/{station}/config",
    summary="The station's configuration as the center issued it, and what it runs",
)
def show(station: str, ctx: Ctx) -> StationConfigOut:
    with ctx.session() as session:
        return service.show(session, ctx.principal(session), station, ctx.settings)


@router.put(
    "/stations/{station}/config",
    summary="Issue a new version of the station's configuration (signed by the center)",
    description=(
        "system:write at the station's mine or above; once the station has reached the "
        "center, only a user of a supervising unit (county and up) may change it."
    ),
)
def issue(station: str, data: StationConfigIn, ctx: Ctx) -> StationConfigOut:
    with ctx.session() as session:
        return service.issue_config(
            session, ctx.principal(session), station, data, ctx.settings, ctx.now()
        )


@router.post(
    "/stations/{station}/config/fetch",
    summary="A station fetches its configuration (body signed with the station's key)",
    description=(
        'Body `{"station", "sent_at", "running"}`, `X-Signature` as for batches. The answer '
        "is the document the center signed (a JSON text) and its signature; 404 when the "
        "center holds no configuration for the station."
    ),
    responses={
        400: {"description": "the body is not the request described"},
        401: {"description": "unknown station or bad signature"},
        404: {"description": "the center holds no configuration for the station"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FetchIn.model_json_schema()}},
        }
    },
)
async def fetch(
    station: str,
    request: Request,
    x_signature: Annotated[str | None, Header(alias="X-Signature")] = None,
) -> SignedConfig:
    body = await request.body()
    state = app_state(request)

    def answer() -> SignedConfig:
        with transaction(state.sessions) as session:
            attach(session, state.broker)
            return service.fetch(session, station, body, x_signature, state.clock())

    return await run_in_threadpool(answer)
