"""Page of 系统设置: 审计日志 (the hash-chained audit log, and whether it is intact)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from coalwatch.audit import service
from coalwatch.audit.labels import FIELDS, action_name, detail_fields
from coalwatch.web.pages import Page, need
from coalwatch.web.refusals import FIELD_LABELS

router = APIRouter(include_in_schema=False)
SystemPage = Annotated[Page, Depends(need("system:view"))]
PAGE_SIZE = 50


@router.get("/system/audit")
def audit_page(
    page: SystemPage,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
    verify: bool = False,
) -> Response:
    with page.session() as session:
        items, total = service.browse(
            session, page.principal, actor=actor, action=action, page=page_no, size=PAGE_SIZE
        )
        broken = service.verify(session) if verify else None
    filters = {k: v for k, v in {"actor": actor, "action": action}.items() if v}
    return page.render(
        "audit/audit.html",
        items=items,
        total=total,
        page_no=page_no,
        size=PAGE_SIZE,
        actor=actor or "",
        action=action or "",
        verified=verify,
        broken=broken,
        base_url="/system/audit?" + urlencode(filters) + "&",
        action_name=lambda code: action_name(code, page.label),
        detail_fields=lambda detail: detail_fields(detail, lambda key: _field(page, key)),
    )


def _field(page: Page, key: str) -> str:
    """A detail's field by its name, else the label its form gives it, else its key."""
    name = FIELDS.get(key) or FIELD_LABELS.get(key)
    return page.label(name) if name else key
