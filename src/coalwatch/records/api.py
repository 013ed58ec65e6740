"""The ledgers over HTTP: ``/api/v1/mines/{mine}/ledger/<kind>``.

Reading needs a read token (``ledger:view``), writing ``ledger:write``, ``format=csv|xlsx``
``ledger:export``. Lists are newest first and paged (``page``, ``size``); an export holds
every matching row (up to 10,000). Nothing is deleted: there is no DELETE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from coalwatch.domain.records import EquipmentKind, EquipmentStatus, MaintenanceKind
from coalwatch.faults import service as faults
from coalwatch.faults.schemas import FaultIn, FaultList, FaultOut
from coalwatch.records import schemas, service
from coalwatch.records.service import Window
from coalwatch.schemas import Id
from coalwatch.web.context import Context, Ctx
from coalwatch.web.exports import XLSX, csv_response, xlsx_response
from coalwatch.wire.types import Day

router = APIRouter(tags=["ledgers"])

LedgerFormat = Annotated[
    Literal["json", "csv", "xlsx"],
    Query(description="json (default), or csv / xlsx: every matching row (needs ledger:export)"),
]
PageNo = Annotated[int, Query(ge=1, le=100_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=500, description="rows per page")]
From = Annotated[Day | None, Query(alias="from", description="first day (local), inclusive")]
To = Annotated[Day | None, Query(alias="to", description="last day (local), inclusive")]


#: the 200 answer of a list: JSON, or a CSV / XLSX export
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON, or CSV / XLSX with `format=`",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class _Rows(Protocol):
    @property
    def items(self) -> Sequence[BaseModel]: ...


Listing = TypeVar("Listing", bound=_Rows)


@dataclass(frozen=True, slots=True)
class Ledger(Generic[Listing]):
    """A ledger's list endpoint: ``read(session, principal, mine, window=, **filters)`` of
    the service, and its download ``<file>-<mine>`` with a column a field of ``row``."""

    read: Callable[..., Listing]
    file: str
    row: type[BaseModel]


EQUIPMENT = Ledger(service.list_equipment, "equipment", schemas.EquipmentOut)
MAINTENANCE = Ledger(service.list_maintenance, "maintenance", schemas.MaintenanceOut)
CALIBRATIONS = Ledger(service.list_calibrations, "calibrations", schemas.CalibrationRecordOut)
UPS_TESTS = Ledger(service.list_ups_tests, "ups-tests", schemas.UpsTestOut)
FAULTS = Ledger(service.list_faults, "faults", FaultOut)


def _listed(
    ledger: Ledger[Listing],
    ctx: Context,
    mine: str,
    format: str,
    window: Window | None,
    **filters: Any,
) -> Listing | Response:
    """``window`` of the ledger as JSON (all of it when None: not paged), or every row
    (``service.ALL``) as CSV / XLSX (``ledger:export``)."""
    with ctx.session() as session:
        principal = ctx.principal(session)
        if format != "json":
            service.require_export(principal)
        if window is not None:
            filters["window"] = window if format == "json" else service.ALL
        found = ledger.read(session, principal, mine, **filters)
    if format == "json":
        return found
    return _export(ctx, f"{ledger.file}-{mine}", ledger.row, found.items, format)


def _export(
    ctx: Context, name: str, model: type[BaseModel], items: Sequence[BaseModel], format: str
) -> Response:
    """The items as CSV (instants with their offset) or XLSX (local times)."""
    columns = tuple(model.model_fields)
    tz = ctx.settings.tz
    rows = []
    for item in items:
        row: list[Any] = []
        for column in columns:
            value = getattr(item, column)
            if isinstance(value, datetime):
                value = value.astimezone(tz)
            row.append(value)
        rows.append(row)
    if format == "csv":
        return csv_response(name, columns, rows)
    return xlsx_response(name, name, columns, rows)


# ---- equipment ---------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/equipment",
    summary="The equipment ledger 设备仪表台账",
    response_model=schemas.EquipmentList,
    responses=ANSWERS,
)
def list_equipment(
    mine: str,
    ctx: Ctx,
    status: EquipmentStatus | None = None,
    kind: EquipmentKind | None = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> schemas.EquipmentList | Response:
    window = Window(page, size)
    return _listed(EQUIPMENT, ctx, mine, format, window, status=status, kind=kind)


@router.post("/mines/{mine}/ledger/equipment", status_code=201, summary="Add an item")
def add_equipment(mine: str, data: schemas.EquipmentIn, ctx: Ctx) -> schemas.EquipmentOut:
    with ctx.session() as session:
        return service.add_equipment(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/mines/{mine}/ledger/equipment/{equipment_id}", summary="One item")
def get_equipment(mine: str, equipment_id: Id, ctx: Ctx) -> schemas.EquipmentOut:
    with ctx.session() as session:
        return service.get_equipment(session, ctx.principal(session), mine, equipment_id)


@router.put(
    "/mines/{mine}/ledger/equipment/{equipment_id}",
    summary="Change an item (a scrapped one: 409)",
)
def update_equipment(
    mine: str, equipment_id: Id, data: schemas.EquipmentIn, ctx: Ctx
) -> schemas.EquipmentOut:
    with ctx.session() as session:
        return service.update_equipment(
            session, ctx.principal(session), mine, equipment_id, data, ctx.now()
        )


@router.post(
    "/mines/{mine}/ledger/equipment/{equipment_id}/scrap",
    summary="Scrap an item 报废 on one of the regulation's criteria",
)
def scrap_equipment(
    mine: str, equipment_id: Id, data: schemas.ScrapIn, ctx: Ctx
) -> schemas.EquipmentOut:
    with ctx.session() as session:
        return service.scrap_equipment(
            session, ctx.principal(session), mine, equipment_id, data, ctx.now()
        )


# ---- maintenance -------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/maintenance",
    summary="Maintenance records 检修记录",
    response_model=schemas.MaintenanceList,
    responses=ANSWERS,
)
def list_maintenance(
    mine: str,
    ctx: Ctx,
    kind: MaintenanceKind | None = None,
    equipment: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: From = None,
    end: To = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> schemas.MaintenanceList | Response:
    window = Window(page, size)
    return _listed(
        MAINTENANCE,
        ctx,
        mine,
        format,
        window,
        kind=kind,
        equipment=equipment,
        first=start,
        last=end,
    )


@router.post("/mines/{mine}/ledger/maintenance", status_code=201, summary="Record maintenance")
def record_maintenance(mine: str, data: schemas.MaintenanceIn, ctx: Ctx) -> schemas.MaintenanceOut:
    with ctx.session() as session:
        return service.record_maintenance(session, ctx.principal(session), mine, data, ctx.now())


# ---- calibrations ------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/calibrations",
    summary="Calibration records 调校记录",
    response_model=schemas.CalibrationList,
    responses=ANSWERS,
)
def list_calibrations(
    mine: str,
    ctx: Ctx,
    point: Annotated[str | None, Query(max_length=64)] = None,
    start: From = None,
    end: To = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> schemas.CalibrationList | Response:
    window = Window(page, size)
    return _listed(CALIBRATIONS, ctx, mine, format, window, point=point, first=start, last=end)


@router.post(
    "/mines/{mine}/ledger/calibrations",
    status_code=201,
    summary="Record a physical calibration (with or without its confirming second run)",
)
def record_calibration(
    mine: str, data: schemas.CalibrationRecordIn, ctx: Ctx
) -> schemas.CalibrationRecordOut:
    with ctx.session() as session:
        return service.record_calibration(session, ctx.principal(session), mine, data, ctx.now())


@router.post(
    "/mines/{mine}/ledger/calibrations/{calibration_id}/confirm",
    summary="The confirming second run of a pending calibration",
)
def confirm_calibration(
    mine: str, calibration_id: Id, data: schemas.ConfirmIn, ctx: Ctx
) -> schemas.CalibrationRecordOut:
    with ctx.session() as session:
        return service.confirm_calibration(
            session, ctx.principal(session), mine, calibration_id, data, ctx.now()
        )


# ---- UPS tests ---------------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/ups",
    summary="UPS tests (15 min on backup power to pass)",
    response_model=schemas.UpsTestList,
    responses=ANSWERS,
)
def list_ups_tests(
    mine: str,
    ctx: Ctx,
    start: From = None,
    end: To = None,
    page: PageNo = 1,
    size: PageSize = service.PAGE_SIZE,
    format: LedgerFormat = "json",
) -> schemas.UpsTestList | Response:
    return _listed(UPS_TESTS, ctx, mine, format, Window(page, size), first=start, last=end)


@router.post("/mines/{mine}/ledger/ups", status_code=201, summary="Record a UPS test")
def record_ups_test(mine: str, data: schemas.UpsTestIn, ctx: Ctx) -> schemas.UpsTestOut:
    with ctx.session() as session:
        return service.record_ups_test(session, ctx.principal(session), mine, data, ctx.now())


# ---- the fault register ------------------------------------------------------------------


@router.get(
    "/mines/{mine}/ledger/faults",
    summary="The fault register 故障登记 of a mine (the fault records)",
    response_model=FaultList,
    responses=ANSWERS,
)
def list_faults(
    mine: str, ctx: Ctx, open: bool = False, format: LedgerFormat = "json"
) -> FaultList | Response:
    return _listed(FAULTS, ctx, mine, format, None, open_only=open, now=ctx.now())


@router.post(
    "/mines/{mine}/ledger/faults", status_code=201, summary="Register a fault by hand (故障登记)"
)
def record_fault(mine: str, data: FaultIn, ctx: Ctx) -> FaultOut:
    with ctx.session() as session:
        return faults.record_fault(session, ctx.principal(session), mine, data, ctx.now())
