"""Tables as CSV (UTF-8 with a BOM, so that Excel shows Chinese) and XLSX downloads."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response

from coalwatch.adapters.documents import sheet_cell, sheet_text, sheet_title, structured_text

#: a dict is a structured value (an alarm's params): written as its JSON text
Cell = str | int | float | Decimal | date | datetime | dict[str, Any] | None

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def _text(value: Cell) -> str:
    """A value as a CSV field: texts made safe (``sheet_text``), numbers as digits."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = structured_text(value)
    if isinstance(value, str):
        return sheet_text(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def csv_response(filename: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Response:
    """Every CSV download: texts cannot smuggle a formula or an unwritable character."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(name) for name in header])
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _disposition(filename + ".csv")},
    )


def xlsx_response(
    filename: str,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    tonnes_columns: Sequence[int] = (),
    percent_columns: Sequence[int] = (),
) -> Response:
    """One sheet: a bold header row, tonnes as numbers with 3 decimals, frozen header.
    Cells are written as ``sheet_cell`` makes them (the workbooks of documents too)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet: Any = book.active
    sheet.title = sheet_title(title)
    sheet.append([sheet_cell(name) for name in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([sheet_cell(value) for value in row])
    for column in tonnes_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = "#,##0.000"
    for column in percent_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = "0.0%"
    for index, name in enumerate(header, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(
            12, len(str(name)) * 2 + 2
        )
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": _disposition(filename + ".xlsx")},
    )


def file_response(filename: str, content: bytes, media_type: str) -> Response:
    """A document made elsewhere (a PDF or workbook of coalwatch.adapters.documents) as a
    download; ``filename`` includes its extension."""
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": _disposition(filename)}
    )
