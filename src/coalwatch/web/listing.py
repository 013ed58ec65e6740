"""List pages: one page of rows at a time, or all of them (up to a limit) as a CSV/XLSX
download named after the page and the local time it was made."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, TypedDict

from fastapi import Query
from fastapi.responses import Response

from coalwatch.web.exports import Cell, csv_response, xlsx_response
from coalwatch.web.pages import Page

PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
Format = Annotated[str | None, Query(pattern="^(csv|xlsx)$")]
PAGE_SIZE = 30
#: the most rows a download holds
EXPORT_LIMIT = 10_000


class Window(TypedDict):
    page: int
    size: int


def window(page_no: int, format: str | None) -> Window:
    """The rows to ask for: the page shown, or the first EXPORT_LIMIT for a download."""
    if format:
        return Window(page=1, size=EXPORT_LIMIT)
    return Window(page=page_no, size=PAGE_SIZE)


def paging(page_no: int, base_url: str) -> dict[str, Any]:
    """The page's paging context: ``base_url`` is ready for ``page=`` to be appended."""
    return {"page_no": page_no, "size": PAGE_SIZE, "base_url": base_url}


def local(page: Page, value: datetime | None) -> datetime | None:
    """An instant in the deployment's time zone (as a download shows it)."""
    return None if value is None else value.astimezone(page.state.settings.tz)


def stamped(page: Page, name: str) -> str:
    """A download's file name: ``name`` and when it was made, on the deployment's clock
    (``<name>-<yyyymmddHHMM>``)."""
    return name + "-" + page.now().astimezone(page.state.settings.tz).strftime("%Y%m%d%H%M")


def export(
    page: Page, name: str, header: Sequence[str], rows: Sequence[Sequence[Cell]], format: str
) -> Response:
    """``rows`` as ``<name>-<local yyyymmddHHMM>.csv`` or ``.xlsx`` (one sheet ``name``)."""
    filename = stamped(page, name)
    if format == "csv":
        return csv_response(filename, header, rows)
    return xlsx_response(filename, name, header, rows)
