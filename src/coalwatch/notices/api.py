"""The JSON routes of rectification notices 整改通知书 and instructions 指令."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from coalwatch.adapters.documents import PDF
from coalwatch.notices import service
from coalwatch.notices.schemas import (
    AckIn,
    AnswerIn,
    IssueIn,
    NoticeList,
    NoticeOut,
    ReturnIn,
    State,
    VerifyIn,
)
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx
from coalwatch.web.exports import file_response

router = APIRouter(tags=["notices and instructions"])
Number = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
CodeQuery = Annotated[str | None, Query(max_length=64)]


@router.post(
    "/notices",
    status_code=201,
    summary="Issue a rectification notice (整改通知书) or an instruction (指令)",
)
def issue(data: IssueIn, ctx: Ctx) -> NoticeOut:
    with ctx.session() as session:
        return service.issue(session, ctx.principal(session), data, ctx.now())


@router.get("/notices", summary="Notices and instructions of the mines in scope, newest first")
def list_notices(
    ctx: Ctx,
    kind: Annotated[Literal["notice", "instruction"] | None, Query()] = None,
    mine: CodeQuery = None,
    org: CodeQuery = None,
    state: Annotated[State | None, Query()] = None,
    open: bool = False,
    overdue: bool = False,
) -> NoticeList:
    with ctx.session() as session:
        return NoticeList(
            items=service.list_notices(
                session,
                ctx.principal(session),
                ctx.now(),
                kind=kind,
                mine=mine,
                org=org,
                state=state,
                open_only=open,
                overdue_only=overdue,
            )
        )


@router.get("/notices/{number}", summary="One notice or instruction, as seen by the caller")
def get_notice(number: Number, ctx: Ctx) -> NoticeOut:
    with ctx.session() as session:
        return service.get_notice(session, ctx.principal(session), number, ctx.now())


@router.post("/notices/{number}/ack", summary="The mine acknowledges (签收)")
def acknowledge(number: Number, data: AckIn, ctx: Ctx) -> NoticeOut:
    with ctx.session() as session:
        return service.acknowledge(session, ctx.principal(session), number, data, ctx.now())


@router.post("/notices/{number}/answer", summary="The mine answers what it did (反馈)")
def answer(number: Number, data: AnswerIn, ctx: Ctx) -> NoticeOut:
    with ctx.session() as session:
        return service.answer(session, ctx.principal(session), number, data, ctx.now())


@router.post("/notices/{number}/verify", summary="The issuer verifies and closes a notice (验收)")
def verify(number: Number, data: VerifyIn, ctx: Ctx) -> NoticeOut:
    with ctx.session() as session:
        return service.verify(session, ctx.principal(session), number, data, ctx.now())


@router.post("/notices/{number}/return", summary="The issuer sends a notice back (退回)")
def send_back(number: Number, data: ReturnIn, ctx: Ctx) -> NoticeOut:
    with ctx.session() as session:
        return service.send_back(session, ctx.principal(session), number, data, ctx.now())


@router.get("/notices/{number}/pdf", summary="The printable notice or instruction (PDF)")
def pdf(number: Number, ctx: Ctx) -> Response:
    with ctx.session() as session:
        content = service.pdf(
            session, ctx.principal(session), number, ctx.now(), ctx.state.settings.tz
        )
    return file_response(f"{number}.pdf", content, PDF)


@router.get("/notices/{number}/attachments/{attachment_id}", summary="An attachment")
def attachment(number: Number, attachment_id: Id, ctx: Ctx) -> Response:
    with ctx.session() as session:
        found = service.attachment(session, ctx.principal(session), number, attachment_id)
        return file_response(found.name, found.content, found.media_type)
