"""Printable documents: PDF from HTML (WeasyPrint) and XLSX workbooks (openpyxl).

A document is a Jinja2 template that extends ``documents/base.html`` (A4, a CJK
font list, so that the Chinese text is embedded in the PDF as a font subset),
found in ``adapters/templates`` or in any feature's ``templates/`` folder.
Figures are formatted from ``Decimal`` by the filters below, never via float.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from coalwatch.errors import CoalwatchError

PACKAGE = Path(__file__).resolve().parent.parent
#: the fonts a document asks for, first found wins (Debian: fonts-noto-cjk, fonts-wqy-zenhei)
CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", sans-serif'
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PdfUnavailable(CoalwatchError):
    """The machine cannot render PDF (a system library is missing): not the client's fault."""

    status = 503
    code = "pdf_unavailable"


def grouped(value: Decimal | int | None, places: int | None = None) -> str:
    """A figure with thousands separators: ``places`` decimals (rounded half-up), or all
    its own decimals when None (an exact figure shown as it is)."""
    if value is None:
        return "—"
    number = Decimal(value)
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(number, ",f")


@cache
def environment() -> Environment:
    dirs = [PACKAGE / "adapters" / "templates", *sorted(PACKAGE.glob("*/templates"))]
    env = Environment(
        loader=FileSystemLoader([str(d) for d in dict.fromkeys(dirs)]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["grouped"] = grouped
    env.globals["CJK_FONTS"] = CJK_FONTS
    return env


def render_html(template: str, **context: Any) -> str:
    """A document template rendered to HTML (the same HTML prints from a browser)."""
    return environment().get_template(template).render(**context)


def render_pdf(html: str) -> bytes:
    """PDF bytes of an HTML document; fonts are embedded as subsets, nothing is fetched
    from outside (the monitoring network is closed)."""
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
        from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]
    except OSError as exc:  # WeasyPrint loads Pango from the system
        raise PdfUnavailable(
            "PDF output needs the Pango library on the center's machine "
            "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
        ) from exc

    # data: URLs only (inline images); any other URL is refused with a warning
    fetcher = URLFetcher(allowed_protocols={"data"})
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf


Cell = str | int | Decimal | date | datetime | None


@dataclass
class Table:
    """A block of a sheet: a bold header row, rows, and number formats per column index."""

    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    formats: dict[int, str] = field(default_factory=dict)
    #: rows at the end shown in bold (totals)
    bold_last: int = 0


@dataclass
class Sheet:
    title: str
    #: lines above the tables (the document's title first, in bold)
    heading: Sequence[str]
    tables: Sequence[Table]
    #: lines below the tables (notes, rules)
    notes: Sequence[str] = ()
    widths: Sequence[int] = ()


YUAN_FORMAT = "#,##0.00"
TONNES_FORMAT = "#,##0.000"
EXACT_TONNES_FORMAT = "#,##0.0000000"
RATE_FORMAT = "#,##0.0000"


#: what XML 1.0 does not allow in a workbook (openpyxl refuses it), DEL, the C1 controls
#: and lone surrogates (no UTF-8 for them): each becomes U+FFFD
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: a spreadsheet reads a cell starting with one of these as a formula (OWASP: CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: texts that start so but are only a signed number or a dash: nothing to neutralise
_HARMLESS = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?%?|-+")


def sheet_text(value: str) -> str:
    """A text as an exported cell (CSV or XLSX): characters a workbook cannot hold are
    replaced, and a text a spreadsheet would take for a formula gets a leading ``'``
    (which spreadsheets read as "this is text")."""
    text = _UNWRITABLE.sub("\ufffd", value)
    if text.startswith(_FORMULA_START) and not _HARMLESS.fullmatch(text):
        return "'" + text
    return text


def sheet_cell(value: Cell | float | dict[str, Any]) -> Any:
    """A value as a workbook cell: texts made safe, numbers and dates as they are,
    structured values (an alarm's params) as their JSON text."""
    if isinstance(value, dict):
        value = structured_text(value)
    if isinstance(value, str):
        return sheet_text(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones: local time
    return value


def structured_text(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def sheet_title(title: str) -> str:
    # a sheet's name may not hold []:*?/\ and has at most 31 characters
    return re.sub(r"[\[\]:*?/\\]", "_", _UNWRITABLE.sub("", title))[:31] or "Sheet"


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook; decimals are written as numbers with the given formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold = Font(bold=True)
    for spec in sheets:
        sheet = book.create_sheet(sheet_title(spec.title))
        for index, line in enumerate(spec.heading):
            sheet.append([sheet_cell(line)])
            if index == 0:
                sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=14)
        for table in spec.tables:
            sheet.append([])
            sheet.append([sheet_cell(name) for name in table.header])
            for cell in sheet[sheet.max_row]:
                cell.font = bold
            first = sheet.max_row + 1
            for row in table.rows:
                sheet.append([sheet_cell(v) for v in row])
            last = sheet.max_row
            for column, number_format in table.formats.items():
                for r in range(first, last + 1):
                    sheet.cell(row=r, column=column + 1).number_format = number_format
            for r in range(last - table.bold_last + 1, last + 1):
                for cell in sheet[r]:
                    cell.font = bold
        if spec.notes:
            sheet.append([])
            for line in spec.notes:
                sheet.append([sheet_cell(line)])
        for index, width in enumerate(spec.widths, start=1):
            sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
