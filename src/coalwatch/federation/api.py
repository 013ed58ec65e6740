from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from coalwatch.events.broker import attach
from coalwatch.federation import decisions, service
from coalwatch.federation.schemas import (
    CenterIn,
    CenterList,
    CenterOut,
    CheckpointList,
    ForwardAnswer,
    RejectList,
)
from coalwatch.ingest.service import IngestLimits
from coalwatch.integrity.keys import center_key
from coalwatch.storage.session import transaction
from coalwatch.web.context import Ctx, app_state
from coalwatch.wire.signing import sign

router = APIRouter(tags=["centers"])


@router.post(
    "/centers",
    summary="Register a downstream center that forwards the data of an org's subtree",
)
def register_center(data: CenterIn, ctx: Ctx) -> CenterOut:
    with ctx.session() as session:
        return service.register_center(session, ctx.principal(session), data, ctx.now())


@router.get("/centers", summary="The downstream centers, with their acknowledged seq")
def list_centers(ctx: Ctx) -> CenterList:
    with ctx.session() as session:
        return CenterList(items=service.list_centers(session, ctx.principal(session)))


@router.get("/centers/{center}/rejects", summary="Items of a center that could not be applied")
def list_rejects(
    center: str, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> RejectList:
    with ctx.session() as session:
        return RejectList(
            items=service.list_rejects(session, ctx.principal(session), center, limit)
        )


@router.post(
    "/centers/{center}/batches",
    summary="Receive a signed batch of a downstream center's items",
    description=(
        "The body `{center, sent_at, items: [{seq, kind, payload}]}` is signed with the "
        "downstream center's Ed25519 key (`X-Signature`, base64, over the exact body). "
        "Items are applied in seq order; duplicates are ignored; an item that cannot be "
        "applied is kept with its reason and listed in `rejected`."
    ),
    responses={
        400: {"description": "the body is not JSON"},
        401: {"description": "unknown center or bad signature; nothing is applied"},
        422: {"description": "the envelope is invalid; nothing is applied"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive_batch(
    center: str,
    request: Request,
    x_signature: Annotated[str | None, Header(alias="X-Signature")] = None,
) -> ForwardAnswer:
    body = await request.body()
    state = app_state(request)
    context = service.ReceiveContext(
        limits=IngestLimits.of(state.settings),
        default_tz=state.settings.timezone,
    )

    def receive() -> ForwardAnswer:
        with transaction(state.sessions) as session:
            attach(session, state.broker)
            return service.receive_batch(session, center, body, x_signature, state.clock(), context)

    return await run_in_threadpool(receive)


@router.post(
    "/centers/{center}/decisions",
    summary="A downstream center fetches the decisions made for the mines it holds",
    description=(
        "The body `{center, sent_at, applied: [seq]}` is signed with the downstream "
        "center's Ed25519 key (`X-Signature`). The listed decisions are marked applied; "
        "the answer lists the ones still waiting, oldest first, and is signed with this "
        "center's own key (`X-Signature`)."
    ),
    responses={
        401: {"description": "unknown center or bad signature"},
        422: {"description": "the body is invalid"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def serve_decisions(
    center: str,
    request: Request,
    x_signature: Annotated[str | None, Header(alias="X-Signature")] = None,
) -> Response:
    body = await request.body()
    state = app_state(request)

    def serve() -> bytes:
        with transaction(state.sessions) as session:
            answer = decisions.serve(session, center, body, x_signature, state.clock())
        return answer.model_dump_json().encode()

    content = await run_in_threadpool(serve)
    # the key the integrity job made at first start (or `coalwatch center keygen`)
    key = center_key(state.settings, create=False)
    headers = {} if key is None else {"X-Signature": sign(key, content)}
    return Response(content, media_type="application/json", headers=headers)


@router.get(
    "/centers/{center}/checkpoints",
    summary="A downstream center's signed audit checkpoints, as kept here",
)
def list_checkpoints(center: str, ctx: Ctx) -> CheckpointList:
    with ctx.session() as session:
        return CheckpointList(
            items=[
                json.loads(c.as_json())
                for c in service.center_checkpoints(session, ctx.principal(session), center)
            ]
        )
