"""Page of 台账管理: 备份记录 (the backup ledger)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from coalwatch.backups import service
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
LedgerPage = Annotated[Page, Depends(need("ledger:view"))]


@router.get("/ledger/backups")
def backups_page(page: LedgerPage) -> Response:
    policy = service.Policy.from_settings(page.state.settings)
    with page.session() as session:
        items = service.list_backups(session, page.principal, policy.directory)
    return page.render("backups/backups.html", items=items, policy=policy)
