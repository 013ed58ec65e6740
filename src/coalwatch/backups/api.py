"""The backup ledger 备份记录 in the API (read-only: backups are made by the operator's
command line and by the schedule)."""

from __future__ import annotations

from fastapi import APIRouter

from coalwatch.backups import service
from coalwatch.backups.schemas import BackupList
from coalwatch.web.context import Ctx

router = APIRouter(tags=["backups"])


@router.get(
    "/backups",
    summary="The backup ledger, newest first (whole-tree tokens only)",
    description=(
        "Each backup with its file, size, SHA-256, trigger and the summary of the figures "
        "it was verified by; `status` says whether the file is still there (`ok`), was "
        "pruned by retention, is missing, or is in the backup directory without a ledger "
        "row (`unrecorded`)."
    ),
)
def list_backups(ctx: Ctx) -> BackupList:
    directory = service.Policy.from_settings(ctx.settings).directory
    with ctx.session() as session:
        return BackupList(items=service.list_backups(session, ctx.principal(session), directory))
