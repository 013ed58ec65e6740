"""Downloaded documents read back: a PDF's text and fonts (poppler's pdftotext and
pdffonts, installed by ``make browser``) and an XLSX workbook's cells (openpyxl)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from openpyxl import load_workbook


def pdf_text(content: bytes) -> tuple[str, str]:
    """The PDF's text (``pdftotext -layout``) and its font table (``pdffonts``)."""
    assert content.startswith(b"%PDF-"), content[:40]
    missing = [tool for tool in ("pdftotext", "pdffonts") if shutil.which(tool) is None]
    assert not missing, f"{missing} missing: `make browser` installs poppler-utils"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(content)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
        fonts = subprocess.run(
            ["pdffonts", str(path)], check=True, capture_output=True, text=True
        ).stdout
    return text, fonts


def xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    """The values of the workbook's first sheet, row by row."""
    assert content[:2] == b"PK", content[:40]
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    assert sheet is not None
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]
