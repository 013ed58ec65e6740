from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from coalwatch.adapters.documents import PDF, XLSX
from coalwatch.settlement import documents, service
from coalwatch.settlement.schemas import (
    FeeItemIn,
    FeeItemList,
    FeeItemOut,
    FeeRateIn,
    Format,
    OrgStatement,
    Statement,
)
from coalwatch.web.context import Ctx
from coalwatch.web.exports import csv_response, file_response
from coalwatch.web.formats import document_content

router = APIRouter(tags=["settlement"])
Month = Annotated[
    str, Path(description="the month, YYYY-MM", pattern=r"^\d{4}-\d{2}$", examples=["2026-03"])
]
FormatQuery = Annotated[
    Format,
    Query(
        description="json (default), csv (lines and a total row), xlsx or pdf (A4, printable)",
        openapi_examples={
            "json": {"summary": "the statement as JSON", "value": "json"},
            "pdf": {"summary": "a printable A4 PDF", "value": "pdf"},
        },
    ),
]
ROUNDING_HEADER = "X-Coalwatch-Rounding"
#: the rule in a header: ASCII only
ROUNDING_HEADER_VALUE = service.ROUNDING_RULE.replace("×", "x")

STATEMENT_EXAMPLE: dict[str, Any] = {
    "mine": "M1",
    "name": "M1 矿",
    "org": "C1",
    "org_name": "C1 县",
    "month": "2026-03",
    "first_day": "2026-03-01",
    "last_day": "2026-03-31",
    "timezone": "Asia/Shanghai",
    "currency": "CNY",
    "complete": True,
    "computed_at": "2026-04-02T01:00:00Z",
    "basis": {
        "gross_t": 3000,
        "raw_t": 2880,
        "raw_t_exact": "2880.0000000",
        "manual_t": 0,
        "coefficients": [{"first_day": "2026-03-01", "last_day": "2026-03-31", "percent": 4}],
        "days": [
            {
                "day": "2026-03-01",
                "gross_t": 100,
                "raw_t": 96,
                "raw_t_exact": "96.0000000",
                "manual_t": 0,
            }
        ],
    },
    "lines": [
        {
            "item": "resource_tax",
            "name": "资源税",
            "first_day": "2026-03-01",
            "last_day": "2026-03-31",
            "yuan_per_t": 5,
            "raw_t": 2880,
            "raw_t_exact": "2880.0000000",
            "amount": 14400,
        }
    ],
    "total": 14400,
    "rounding": service.ROUNDING_RULE,
}
STATEMENT_CSV_EXAMPLE = (
    "mine,month,item,name,first_day,last_day,yuan_per_t,raw_t,raw_t_exact,amount\r\n"
    "M1,2026-03,resource_tax,资源税,2026-03-01,2026-03-31,5.0000,2880.000,2880.0000000,14400.00\r\n"
    "M1,2026-03,total,合计,2026-03-01,2026-03-31,,,,14400.00\r\n"
)
ORG_CSV_EXAMPLE = (
    "mine,name,gross_t,raw_t,raw_t_exact,manual_t,resource_tax,total\r\n"
    "M1,M1 矿,3000.000,2880.000,2880.0000000,0.000,14400.00,14400.00\r\n"
    "*,合计,3000.000,2880.000,2880.0000000,0.000,14400.00,14400.00\r\n"
)


@router.get("/fee-items", summary="Fee and tax items 收费项目 with their rates")
def list_items(ctx: Ctx) -> FeeItemList:
    with ctx.session() as session:
        return FeeItemList(items=service.list_items(session, ctx.principal(session)))


@router.post("/fee-items", status_code=201, summary="Add a fee or tax item (audited)")
def create_item(data: FeeItemIn, ctx: Ctx) -> FeeItemOut:
    with ctx.session() as session:
        return service.create_item(session, ctx.principal(session), data, ctx.now())


@router.post(
    "/fee-items/{code}/rates",
    status_code=201,
    summary="A rate in yuan per tonne of raw coal from a date on (audited)",
)
def add_rate(code: Annotated[str, Path(max_length=64)], data: FeeRateIn, ctx: Ctx) -> FeeItemOut:
    with ctx.session() as session:
        return service.add_rate(session, ctx.principal(session), code, data, ctx.now())


@router.get(
    "/mines/{mine}/statements/{month}",
    summary="A mine's monthly settlement statement 月结算单",
    description=(
        "One line per fee item and stretch of days with one rate, computed from the "
        f"monitored raw production of the mine's local days. Rounding: {service.ROUNDING_RULE}."
    ),
    response_model=Statement,
    responses={
        200: document_content(STATEMENT_EXAMPLE, STATEMENT_CSV_EXAMPLE, ROUNDING_HEADER),
    },
)
def mine_statement(
    mine: Annotated[str, Path(max_length=64)],
    month: Month,
    ctx: Ctx,
    format: FormatQuery = "json",
) -> Statement | Response:
    with ctx.session() as session:
        statement = service.statement(session, ctx.principal(session), mine, month, ctx.now())
    return statement if format == "json" else statement_file(statement, format)


def statement_file(statement: Statement, format: str) -> Response:
    """A statement as a download: ``csv`` (with the rounding rule in a header), ``xlsx``
    or ``pdf``; the pages give the same files as the API."""
    name = documents.statement_filename(statement)
    if format == "xlsx":
        return file_response(f"{name}.xlsx", documents.statement_xlsx(statement), XLSX)
    if format == "pdf":
        return file_response(f"{name}.pdf", documents.statement_pdf(statement), PDF)
    response = csv_response(
        name, documents.STATEMENT_CSV_HEADER, documents.statement_csv(statement)
    )
    response.headers[ROUNDING_HEADER] = ROUNDING_HEADER_VALUE
    return response


@router.get(
    "/orgs/{org}/statements/{month}",
    summary="The month's settlement of every mine under an org, one row per mine",
    response_model=OrgStatement,
    responses={200: document_content(None, ORG_CSV_EXAMPLE, ROUNDING_HEADER)},
)
def org_statement(
    org: Annotated[str, Path(max_length=64)],
    month: Month,
    ctx: Ctx,
    format: FormatQuery = "json",
) -> OrgStatement | Response:
    with ctx.session() as session:
        statement = service.org_statement(session, ctx.principal(session), org, month, ctx.now())
    name = documents.org_statement_filename(statement)
    if format == "csv":
        response = csv_response(
            name,
            documents.org_statement_csv_header(statement),
            documents.org_statement_csv(statement),
        )
        response.headers[ROUNDING_HEADER] = ROUNDING_HEADER_VALUE
        return response
    if format == "xlsx":
        return file_response(f"{name}.xlsx", documents.org_statement_xlsx(statement), XLSX)
    if format == "pdf":
        return file_response(f"{name}.pdf", documents.org_statement_pdf(statement), PDF)
    return statement
