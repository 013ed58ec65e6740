"""The JSON routes of the document archive 档案 (a file is sent as multipart form data)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from coalwatch.archive import service, store
from coalwatch.archive.schemas import Checklist, DocumentOut
from coalwatch.domain.archive import Owner
from coalwatch.web.context import Ctx

router = APIRouter(tags=["archive"])


def content_disposition(filename: str) -> str:
    """The stored name, for any browser: an ASCII stand-in and the UTF-8 name."""
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


KindField = Annotated[str, Form(max_length=32)]
TitleField = Annotated[str, Form(max_length=200)]
FileField = Annotated[UploadFile, File(description="the document's file")]
UntilField = Annotated[date | None, Form()]
NoteField = Annotated[str | None, Form(max_length=2000)]
ReplacesField = Annotated[int | None, Form()]


@router.get("/mines/{mine}/archive", summary="A mine's document archive as its checklist")
def mine_checklist(mine: str, ctx: Ctx) -> Checklist:
    with ctx.session() as session:
        return service.checklist(
            session, ctx.principal(session), Owner.MINE, mine, ctx.now(), ctx.settings.tz
        )


@router.get("/orgs/{org}/archive", summary="A center's document archive as its checklist")
def center_checklist(org: str, ctx: Ctx) -> Checklist:
    with ctx.session() as session:
        return service.checklist(
            session, ctx.principal(session), Owner.CENTER, org, ctx.now(), ctx.settings.tz
        )


async def _upload(
    ctx: Ctx,
    owner: Owner,
    code: str,
    kind: str,
    title: str,
    file: UploadFile,
    valid_until: date | None,
    note: str | None,
    replaces: int | None,
) -> DocumentOut:
    data = service.Upload(
        kind=kind,
        title=title,
        file_name=file.filename or "document",
        content_type=file.content_type or "application/octet-stream",
        data=await file.read(),
        valid_until=valid_until,
        note=note,
        replaces=replaces,
    )

    def work() -> DocumentOut:
        with ctx.session() as session:
            return service.upload(
                session,
                ctx.principal(session),
                store.root(ctx.settings),
                owner,
                code,
                data,
                ctx.now(),
                ctx.settings.tz,
            )

    return await run_in_threadpool(work)


@router.post(
    "/mines/{mine}/archive",
    status_code=201,
    summary="Keep a document in a mine's archive (a new one of a single kind replaces it)",
)
async def mine_upload(
    mine: str,
    ctx: Ctx,
    kind: KindField,
    title: TitleField,
    file: FileField,
    valid_until: UntilField = None,
    note: NoteField = None,
    replaces: ReplacesField = None,
) -> DocumentOut:
    return await _upload(ctx, Owner.MINE, mine, kind, title, file, valid_until, note, replaces)


@router.post(
    "/orgs/{org}/archive", status_code=201, summary="Keep a document in a center's archive"
)
async def center_upload(
    org: str,
    ctx: Ctx,
    kind: KindField,
    title: TitleField,
    file: FileField,
    valid_until: UntilField = None,
    note: NoteField = None,
    replaces: ReplacesField = None,
) -> DocumentOut:
    return await _upload(ctx, Owner.CENTER, org, kind, title, file, valid_until, note, replaces)


@router.post(
    "/archive/{doc_id}/approve", summary="Approve a document (审批, in the approver's role)"
)
def approve(doc_id: int, ctx: Ctx) -> DocumentOut:
    with ctx.session() as session:
        return service.approve(session, ctx.principal(session), doc_id, ctx.now(), ctx.settings.tz)


@router.get("/archive/{doc_id}/file", summary="A document's file, checked against its SHA-256")
def file(doc_id: int, ctx: Ctx) -> Response:
    with ctx.session() as session:
        doc, content = service.download(
            session, ctx.principal(session), store.root(ctx.settings), doc_id, ctx.settings.tz
        )
    return Response(
        content,
        media_type=doc.content_type,
        headers={
            "Content-Disposition": content_disposition(doc.file_name),
            "X-Content-SHA256": doc.sha256,
        },
    )


@router.delete(
    "/archive/{doc_id}",
    summary="Delete a replaced document after its two years (refused earlier, with the reason)",
)
def delete(doc_id: int, ctx: Ctx) -> DocumentOut:
    with ctx.session() as session:
        return service.delete(
            session,
            ctx.principal(session),
            store.root(ctx.settings),
            doc_id,
            ctx.now(),
            ctx.settings.tz,
        )
