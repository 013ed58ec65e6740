"""Alternative answers of a read endpoint (``format=csv|xlsx|pdf``), as documented in
the OpenAPI document: every 200 content type with an example."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query

from coalwatch.adapters.documents import PDF, XLSX

TableFormat = Literal["json", "csv"]
#: the ``format`` parameter of a read endpoint that answers a table as JSON or CSV
TableFormatQuery = Annotated[
    TableFormat,
    Query(
        description=(
            "json (default) or csv: UTF-8 with a byte-order mark (Excel shows the Chinese), "
            "a header row, decimals written out in full"
        ),
        openapi_examples={
            "json": {"summary": "JSON (the default)", "value": "json"},
            "csv": {"summary": "CSV for a spreadsheet or a loader", "value": "csv"},
        },
    ),
]
CSV = "text/csv"


def table_content(json_example: Any | None, csv_example: str) -> dict[str, Any]:
    """The 200 answer of an endpoint with ``format=json|csv``."""
    content: dict[str, Any] = {}
    if json_example is not None:
        content["application/json"] = {"example": json_example}
    content[CSV] = {"schema": {"type": "string"}, "example": csv_example}
    return {"description": "JSON, or CSV with `format=csv`", "content": content}


def document_content(
    json_example: Any | None, csv_example: str, rounding_header: str | None = None
) -> dict[str, Any]:
    """The 200 answer of a document endpoint with ``format=json|csv|xlsx|pdf``."""
    answer = table_content(json_example, csv_example)
    answer["description"] = "JSON, or CSV, XLSX or PDF (A4) with `format=`"
    answer["content"][XLSX] = {"schema": {"type": "string", "format": "binary"}}
    answer["content"][PDF] = {"schema": {"type": "string", "format": "binary"}}
    if rounding_header is not None:
        answer["headers"] = {
            rounding_header: {
                "description": "on CSV answers: the rounding rule of the amounts",
                "schema": {"type": "string"},
            }
        }
    return answer
