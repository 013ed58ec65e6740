from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.routing import APIRoute

from coalwatch.ingest import queries, service
from coalwatch.ingest.committer import Upload
from coalwatch.ingest.schemas import QuarantineList, RecordList, WriteOffIn, WriteOffOut
from coalwatch.web.context import Ctx, app_state
from coalwatch.wire.batches import Batch, BatchAnswer, StationRecord
from coalwatch.wire.types import Moment

router = APIRouter(tags=["stations"])


class BatchDocument(Batch):
    """The upload as documented; records are validated one by one on arrival."""

    records: list[StationRecord]


class _Upload(APIRoute):
    """The upload's route: documented from ``upload_batch``'s signature as every route is,
    and answered without FastAPI's solving of parameters and validation of the answer,
    which cost more than the rest of the request for the one every station sends every
    few seconds. Its parameters are plain text taken as they are; the answer, a pydantic
    model already, is written as JSON at once."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def answer(request: Request) -> Response:
            station = request.path_params["station"]
            found = await upload_batch(station, request, request.headers.get("x-signature"))
            return Response(found.model_dump_json(), media_type="application/json")

        return answer


async def upload_batch(
    station: str,
    request: Request,
    x_signature: Annotated[str | None, Header(alias="X-Signature")] = None,
) -> BatchAnswer:
    state = app_state(request)
    limits = service.IngestLimits.of(state.settings)
    # a group being gathered meanwhile waits for it; answered after the durable commit
    # of the group it joins (ingest/committer.py)
    with state.uploads().receiving(station) as submit:
        body = await request.body()
        answer = submit(Upload(station, body, x_signature, limits))
    return await asyncio.wrap_future(answer)


router.add_api_route(
    "/stations/{station}/batches",
    summary="Upload a signed batch of station records",
    description=(
        "The body is signed with the station's Ed25519 key: `X-Signature` is the base64 "
        "signature of the exact body bytes. Duplicates are ignored, invalid records are "
        "quarantined and listed in `rejected`, the rest are kept."
    ),
    responses={
        400: {"description": "the body is not JSON"},
        401: {"description": "unknown station or bad signature; nothing is stored"},
        422: {"description": "the envelope is invalid; nothing is stored"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchDocument"}}
            },
        }
    },
    endpoint=upload_batch,
    methods=["POST"],
    route_class_override=_Upload,
)


def document_schemas() -> dict[str, Any]:
    """JSON schemas the OpenAPI document references for the upload body."""
    schema = BatchDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    definitions["BatchDocument"] = schema
    return definitions


@router.get("/mines/{mine}/records", summary="What the mine's stations sent, oldest first")
def list_records(
    mine: str,
    ctx: Ctx,
    type: str | None = None,
    point: str | None = None,
    start: Annotated[Moment | None, Query(alias="from")] = None,
    end: Annotated[Moment | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_RECORDS)] = 1000,
) -> RecordList:
    with ctx.session() as session:
        items = queries.list_records(
            session,
            ctx.principal(session),
            mine,
            type_=type,
            point=point,
            start=start,
            end=end,
            limit=limit,
        )
        return RecordList(items=items)


@router.get("/mines/{mine}/quarantine", summary="Records refused by validation, newest first")
def list_quarantined(
    mine: str,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_RECORDS)] = 1000,
) -> QuarantineList:
    with ctx.session() as session:
        return QuarantineList(
            items=queries.list_quarantined(session, ctx.principal(session), mine, limit)
        )


@router.post(
    "/stations/{station}/gaps/write-off",
    summary="Declare a station's missing records lost (audited); its sequence_gap alarm ends",
)
def write_off_gaps(station: str, data: WriteOffIn, ctx: Ctx) -> WriteOffOut:
    with ctx.session() as session:
        gaps = service.write_off_gaps(
            session, ctx.principal(session), station, data.reason, ctx.now()
        )
        return WriteOffOut(station=station, written_off=gaps)
