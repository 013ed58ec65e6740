"""The ledgers 台账 the center keeps: equipment 设备仪表台账, maintenance 检修记录,
calibrations 调校记录 and UPS tests, per mine. Reading needs ``ledger:view``, writing
``ledger:write``, exporting ``ledger:export``; every write is in the audit log. Records are
never deleted (kept at least 2 years: in practice, for good).

The fault register 故障登记 is the faults feature's records (coalwatch.faults.service).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import calibration as calibration_rules
from coalwatch.domain import records as rules
from coalwatch.domain.calibration import Run
from coalwatch.domain.records import EquipmentKind, EquipmentStatus, MaintenanceKind
from coalwatch.domain.units import kg_to_tonnes, tonnes_to_kg
from coalwatch.errors import Conflict, Invalid, NotFound
from coalwatch.faults import service as faults
from coalwatch.faults.schemas import FaultList
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.people import service as people
from coalwatch.records import repository
from coalwatch.records.models import Calibration, Equipment, MaintenanceRecord, UpsTest
from coalwatch.records.schemas import (
    CalibrationList,
    CalibrationRecordIn,
    CalibrationRecordOut,
    ConfirmIn,
    EquipmentIn,
    EquipmentList,
    EquipmentOut,
    MaintenanceIn,
    MaintenanceList,
    MaintenanceOut,
    Paged,
    ScrapIn,
    UpsTestIn,
    UpsTestList,
    UpsTestOut,
)
from coalwatch.routines import service as routines
from coalwatch.storage.models import Mine, Org

VIEW = "ledger:view"
WRITE = "ledger:write"
EXPORT = "ledger:export"
PAGE_SIZE = 50
#: the most rows one export holds
EXPORT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """Which page of a list (1-based) and how long pages are."""

    page: int = 1
    size: int = PAGE_SIZE


FIRST_PAGE = Window()
#: an export: every row, up to the limit
ALL = Window(1, EXPORT_LIMIT)
Listed = TypeVar("Listed", bound=Paged[Any])


def require_export(principal: Principal) -> None:
    """导出: a ledger leaves the center as CSV or XLSX only with ``ledger:export``."""
    principal.require(EXPORT)


def _mine(session: Session, principal: Principal, code: str, permission: str) -> Mine:
    principal.require(permission)
    mine, _ = visible_mine(session, principal, code)
    return mine


def _today(mine: Mine, now: datetime) -> date:
    return now.astimezone(ZoneInfo(mine.timezone)).date()


def _bounds(
    mine: Mine, first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """Local days [first, last] of the mine as instants [start, end)."""
    tz = ZoneInfo(mine.timezone)
    start = None if first is None else datetime.combine(first, time(), tz)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(), tz)
    return start, end


def _page(listing: type[Listed], items: list[Any], total: int, window: Window) -> Listed:
    """A list's answer: ``items``, the rows of ``window`` out of ``total``."""
    return listing(items=items, total=total, page=window.page, size=window.size)


def _audit(
    session: Session,
    principal: Principal,
    act: str,
    key: int,
    mine: Mine,
    data: BaseModel,
    now: datetime,
) -> None:
    """``act`` is ``<entity>.<verb>``, logged as ``ledger.<entity>.<verb>``."""
    detail: dict[str, Any] = {"mine": mine.code, **data.model_dump(mode="json")}
    entity = act.split(".")[0]
    audit.record(
        session,
        actor=principal.name,
        action=f"ledger.{act}",
        entity=entity,
        key=str(key),
        detail=detail,
        at=now,
    )


def _fen(yuan: Decimal | None) -> int | None:
    return None if yuan is None else int(yuan * 100)


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen).scaleb(-2)


# ---- equipment 设备仪表台账 ----------------------------------------------------------------


def _equipment_out(item: Equipment, mine: Mine, point: str | None) -> EquipmentOut:
    return EquipmentOut(
        id=item.id,
        mine=mine.code,
        point=point,
        kind=item.kind,
        name=item.name,
        model=item.model,
        manufacturer=item.manufacturer,
        serial=item.serial,
        ma_mark=item.ma_mark,
        ex_certificate=item.ex_certificate,
        installed_on=item.installed_on,
        status=item.status,
        note=item.note,
        scrap_criterion=item.scrap_criterion,
        scrapped_on=item.scrapped_on,
        scrapped_by=item.scrapped_by,
        scrap_note=item.scrap_note,
        repair_cost=_yuan(item.repair_cost_fen),
        original_value=_yuan(item.original_value_fen),
        created_by=item.created_by,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def list_equipment(
    session: Session,
    principal: Principal,
    mine_code: str,
    *,
    status: EquipmentStatus | None = None,
    kind: EquipmentKind | None = None,
    window: Window = FIRST_PAGE,
) -> EquipmentList:
    mine = _mine(session, principal, mine_code, VIEW)
    rows, total = repository.equipment_page(
        session,
        mine.id,
        status=None if status is None else status.value,
        kind=None if kind is None else kind.value,
        page=window.page,
        size=window.size,
    )
    return _page(
        EquipmentList, [_equipment_out(item, mine, point) for item, point in rows], total, window
    )


def _the_equipment(session: Session, mine: Mine, equipment_id: int) -> Equipment:
    item = repository.equipment(session, mine.id, equipment_id)
    if item is None:
        raise NotFound(f"no equipment {equipment_id} in mine {mine.code!r}")
    return item


def get_equipment(
    session: Session, principal: Principal, mine_code: str, equipment_id: int
) -> EquipmentOut:
    mine = _mine(session, principal, mine_code, VIEW)
    item = _the_equipment(session, mine, equipment_id)
    return _equipment_out(item, mine, repository.point_code(session, item.point_id))


def _fill(session: Session, mine: Mine, item: Equipment, data: EquipmentIn) -> None:
    item.point_id = None if data.point is None else mine_point(session, mine, data.point).id
    item.kind = data.kind.value
    item.name = data.name
    item.model = data.model or None
    item.manufacturer = data.manufacturer or None
    item.serial = data.serial or None
    item.ma_mark = data.ma_mark or None
    item.ex_certificate = data.ex_certificate or None
    item.installed_on = data.installed_on
    item.status = data.status.value
    item.note = data.note or None


def add_equipment(
    session: Session, principal: Principal, mine_code: str, data: EquipmentIn, now: datetime
) -> EquipmentOut:
    mine = _mine(session, principal, mine_code, WRITE)
    item = Equipment(mine_id=mine.id, created_by=principal.name, created_at=now, updated_at=now)
    _fill(session, mine, item, data)
    repository.add(session, item)
    _audit(session, principal, "equipment.add", item.id, mine, data, now)
    return _equipment_out(item, mine, data.point)


def update_equipment(
    session: Session,
    principal: Principal,
    mine_code: str,
    equipment_id: int,
    data: EquipmentIn,
    now: datetime,
) -> EquipmentOut:
    """A new content of an item; a scrapped item is kept as it was (409)."""
    mine = _mine(session, principal, mine_code, WRITE)
    item = _the_equipment(session, mine, equipment_id)
    if item.status == EquipmentStatus.SCRAPPED:
        raise Conflict(f"equipment {equipment_id} is scrapped: it can no longer be changed")
    _fill(session, mine, item, data)
    item.updated_at = now
    session.flush()
    _audit(session, principal, "equipment.update", item.id, mine, data, now)
    return _equipment_out(item, mine, data.point)


def scrap_equipment(
    session: Session,
    principal: Principal,
    mine_code: str,
    equipment_id: int,
    data: ScrapIn,
    now: datetime,
) -> EquipmentOut:
    """报废 on one of the seed's criteria; the item stays in the ledger, unchangeable."""
    mine = _mine(session, principal, mine_code, WRITE)
    item = _the_equipment(session, mine, equipment_id)
    if item.status == EquipmentStatus.SCRAPPED:
        raise Conflict(f"equipment {equipment_id} is scrapped already")
    try:
        rules.check_scrap(
            EquipmentStatus(item.status), data.criterion, data.repair_cost, data.original_value
        )
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    if data.scrapped_on > _today(mine, now):
        raise Invalid("scrapped_on must not be in the future")
    if item.installed_on is not None and data.scrapped_on < item.installed_on:
        raise Invalid("scrapped_on must not be before the installation date")
    item.status = EquipmentStatus.SCRAPPED.value
    item.scrap_criterion = data.criterion.value
    item.scrapped_on = data.scrapped_on
    item.scrapped_by = principal.name
    item.scrap_note = data.note or None
    item.repair_cost_fen = _fen(data.repair_cost)
    item.original_value_fen = _fen(data.original_value)
    item.updated_at = now
    session.flush()
    _audit(session, principal, "equipment.scrap", item.id, mine, data, now)
    return _equipment_out(item, mine, repository.point_code(session, item.point_id))


def equipment_choices(
    session: Session, principal: Principal, mine_code: str
) -> list[tuple[int, str, str]]:
    """(id, name, kind) of the mine's items in service, for the forms."""
    mine = _mine(session, principal, mine_code, VIEW)
    return [(e.id, e.name, e.kind) for e in repository.equipment_choices(session, mine.id)]


def _in_service(session: Session, mine: Mine, equipment_id: int) -> Equipment:
    item = repository.equipment(session, mine.id, equipment_id)
    if item is None:
        raise Invalid(f"no equipment {equipment_id} in mine {mine.code!r}")
    if item.status == EquipmentStatus.SCRAPPED:
        raise Conflict(f"equipment {equipment_id} ({item.name}) is scrapped")
    return item


# ---- maintenance 检修记录 ------------------------------------------------------------------


def _maintenance_out(
    row: MaintenanceRecord, mine: Mine, point: str | None, equipment: str | None
) -> MaintenanceOut:
    done = (row.end or row.start).astimezone(ZoneInfo(mine.timezone)).date()
    return MaintenanceOut(
        id=row.id,
        mine=mine.code,
        kind=row.kind,
        content=row.content,
        equipment=row.equipment_id,
        equipment_name=equipment,
        point=point,
        start=row.start,
        end=row.end,
        performed_by=row.performed_by,
        result=row.result,
        next_due=rules.maintenance_due(MaintenanceKind(row.kind), done),
        recorded_by=row.recorded_by,
    )


def list_maintenance(
    session: Session,
    principal: Principal,
    mine_code: str,
    *,
    kind: MaintenanceKind | None = None,
    equipment: int | None = None,
    first: date | None = None,
    last: date | None = None,
    window: Window = FIRST_PAGE,
) -> MaintenanceList:
    mine = _mine(session, principal, mine_code, VIEW)
    start, end = _bounds(mine, first, last)
    rows, total = repository.maintenance_page(
        session,
        mine.id,
        kind=None if kind is None else kind.value,
        equipment_id=equipment,
        start=start,
        end=end,
        page=window.page,
        size=window.size,
    )
    return _page(
        MaintenanceList,
        [_maintenance_out(row, mine, point, name) for row, point, name in rows],
        total,
        window,
    )


def _certified(session: Session, principal: Principal, mine: Mine, act: str, now: datetime) -> None:
    """持证上岗: the person recording it holds a valid certificate (people.service)."""
    org = session.get(Org, mine.org_id)
    assert org is not None
    people.require_certified(session, principal, org, mine, act, now)


def record_maintenance(
    session: Session, principal: Principal, mine_code: str, data: MaintenanceIn, now: datetime
) -> MaintenanceOut:
    mine = _mine(session, principal, mine_code, WRITE)
    _certified(session, principal, mine, "maintenance", now)
    if data.start > now or (data.end is not None and data.end > now):
        raise Invalid("a maintenance record is of work done: start and end must not be ahead")
    equipment = None if data.equipment is None else _in_service(session, mine, data.equipment)
    point_id = None if data.point is None else mine_point(session, mine, data.point).id
    if point_id is None and equipment is not None:
        point_id = equipment.point_id
    row = MaintenanceRecord(
        mine_id=mine.id,
        equipment_id=None if equipment is None else equipment.id,
        point_id=point_id,
        kind=data.kind.value,
        content=data.content,
        start=data.start,
        end=data.end,
        performed_by=data.performed_by,
        result=data.result or None,
        recorded_by=principal.name,
        created_at=now,
    )
    repository.add(session, row)
    _audit(session, principal, "maintenance.add", row.id, mine, data, now)
    return _maintenance_out(
        row,
        mine,
        repository.point_code(session, point_id),
        None if equipment is None else equipment.name,
    )


# ---- calibrations 调校记录 -----------------------------------------------------------------


def _tonnes(kg: int | None) -> Decimal | None:
    return None if kg is None else kg_to_tonnes(kg)


def _text(value: Decimal) -> str:
    return format(value, "f")


def _calibration_out(row: Calibration, mine: Mine, point: str) -> CalibrationRecordOut:
    second_error = None
    if row.second_actual_kg is not None and row.second_indicated_kg is not None:
        second = Run(kg_to_tonnes(row.second_actual_kg), kg_to_tonnes(row.second_indicated_kg))
        second_error = _text(calibration_rules.error_percent(second))
    if row.pending:
        status = "pending"
    elif row.first_actual_kg is None:
        status = "recorded"
    else:
        status = "confirmed"
    return CalibrationRecordOut(
        id=row.id,
        mine=mine.code,
        point=point,
        status=status,
        calibrated_on=row.calibrated_on,
        first_run_on=row.first_run_on,
        old_interval=row.old_interval,
        first_actual_t=_tonnes(row.first_actual_kg),
        first_indicated_t=_tonnes(row.first_indicated_kg),
        error_percent=row.error_percent,
        new_interval=row.new_interval,
        second_actual_t=_tonnes(row.second_actual_kg),
        second_indicated_t=_tonnes(row.second_indicated_kg),
        second_error_percent=second_error,
        calibrated_by=row.calibrated_by,
        witness=row.witness,
        written_to_instrument=row.written_to_instrument,
        due_on=None if row.pending else calibration_rules.due_date(row.calibrated_on),
        note=row.note,
        recorded_by=row.recorded_by,
    )


def list_calibrations(
    session: Session,
    principal: Principal,
    mine_code: str,
    *,
    point: str | None = None,
    first: date | None = None,
    last: date | None = None,
    window: Window = FIRST_PAGE,
) -> CalibrationList:
    mine = _mine(session, principal, mine_code, VIEW)
    point_id = None if point is None else mine_point(session, mine, point).id
    rows, total = repository.calibrations_page(
        session,
        mine.id,
        point_id=point_id,
        first=first,
        last=last,
        page=window.page,
        size=window.size,
    )
    return _page(
        CalibrationList, [_calibration_out(row, mine, code) for row, code in rows], total, window
    )


def _confirmation(
    actual_t: Decimal | None, indicated_t: Decimal | None, written: bool
) -> Run | None:
    second = None
    if actual_t is not None and indicated_t is not None:
        second = Run(actual_t, indicated_t)
    try:
        calibration_rules.check_write(written, second)
    except ValueError as exc:
        raise Invalid(f"second run: {exc}") from exc
    return second


def record_calibration(
    session: Session,
    principal: Principal,
    mine_code: str,
    data: CalibrationRecordIn,
    now: datetime,
) -> CalibrationRecordOut:
    """A physical calibration: new interval value = actual / indicated × old from the first
    run; with a confirming second run it counts at once, else it waits (pending) for one."""
    mine = _mine(session, principal, mine_code, WRITE)
    _certified(session, principal, mine, "calibration", now)
    point = mine_point(session, mine, data.point)
    if point.kind != "belt":
        raise Invalid(
            f"point {point.code!r} is a {point.kind}; calibrations here are for belt scales"
        )
    today = _today(mine, now)
    if data.calibrated_on > today:
        raise Invalid("calibrated_on must not be in the future")
    first = Run(data.first_actual_t, data.first_indicated_t)
    try:
        new_interval = calibration_rules.new_interval_value(first, data.old_interval)
        error = calibration_rules.error_percent(first)
    except ValueError as exc:
        raise Invalid(f"first run: {exc}") from exc
    second = _confirmation(
        data.second_actual_t, data.second_indicated_t, data.written_to_instrument
    )
    confirmed_on = None
    if second is not None:
        confirmed_on = data.confirmed_on or data.calibrated_on
        _check_confirmed_on(confirmed_on, data.calibrated_on, today)
    row = Calibration(
        mine_id=mine.id,
        point_id=point.id,
        calibrated_on=confirmed_on or data.calibrated_on,
        note=data.note or None,
        recorded_by=principal.name,
        created_at=now,
        pending=second is None,
        first_run_on=data.calibrated_on,
        old_interval=_text(data.old_interval),
        new_interval=_text(new_interval),
        error_percent=_text(error),
        first_actual_kg=tonnes_to_kg(first.actual_t),
        first_indicated_kg=tonnes_to_kg(first.indicated_t),
        second_actual_kg=None if second is None else tonnes_to_kg(second.actual_t),
        second_indicated_kg=None if second is None else tonnes_to_kg(second.indicated_t),
        calibrated_by=data.calibrated_by,
        witness=data.witness or None,
        written_to_instrument=data.written_to_instrument,
    )
    repository.add(session, row)
    _audit(session, principal, "calibration.add", row.id, mine, data, now)
    routines.calibration_anomaly(session, row, error, now)
    return _calibration_out(row, mine, point.code)


def _check_confirmed_on(confirmed_on: date, first_run_on: date, today: date) -> None:
    if confirmed_on < first_run_on:
        raise Invalid("confirmed_on must not be before the first run")
    if confirmed_on > today:
        raise Invalid("confirmed_on must not be in the future")


def confirm_calibration(
    session: Session,
    principal: Principal,
    mine_code: str,
    calibration_id: int,
    data: ConfirmIn,
    now: datetime,
) -> CalibrationRecordOut:
    """The confirming second run of a pending calibration: from its day the 15 days count."""
    mine = _mine(session, principal, mine_code, WRITE)
    row = repository.calibration(session, mine.id, calibration_id)
    if row is None:
        raise NotFound(f"no calibration {calibration_id} in mine {mine.code!r}")
    if not row.pending:
        raise Conflict(f"calibration {calibration_id} is not waiting for a confirming run")
    second = _confirmation(
        data.second_actual_t, data.second_indicated_t, data.written_to_instrument
    )
    assert second is not None
    _check_confirmed_on(data.confirmed_on, row.first_run_on or row.calibrated_on, _today(mine, now))
    row.pending = False
    row.calibrated_on = data.confirmed_on
    row.second_actual_kg = tonnes_to_kg(second.actual_t)
    row.second_indicated_kg = tonnes_to_kg(second.indicated_t)
    row.written_to_instrument = data.written_to_instrument
    session.flush()
    _audit(session, principal, "calibration.confirm", row.id, mine, data, now)
    point = repository.point_code(session, row.point_id)
    assert point is not None
    return _calibration_out(row, mine, point)


# ---- UPS tests ---------------------------------------------------------------------------


def _ups_out(row: UpsTest, mine: Mine, equipment: str | None) -> UpsTestOut:
    return UpsTestOut(
        id=row.id,
        mine=mine.code,
        equipment=row.equipment_id,
        equipment_name=equipment,
        tested_at=row.tested_at,
        minutes_on_backup=row.minutes_on_backup,
        passed=row.passed,
        tested_by=row.tested_by,
        note=row.note,
        recorded_by=row.recorded_by,
    )


def list_ups_tests(
    session: Session,
    principal: Principal,
    mine_code: str,
    *,
    first: date | None = None,
    last: date | None = None,
    window: Window = FIRST_PAGE,
) -> UpsTestList:
    mine = _mine(session, principal, mine_code, VIEW)
    start, end = _bounds(mine, first, last)
    rows, total = repository.ups_page(
        session, mine.id, start=start, end=end, page=window.page, size=window.size
    )
    return _page(UpsTestList, [_ups_out(row, mine, name) for row, name in rows], total, window)


def record_ups_test(
    session: Session, principal: Principal, mine_code: str, data: UpsTestIn, now: datetime
) -> UpsTestOut:
    """A UPS test: it passes when the backup power carried the load for 15 minutes."""
    mine = _mine(session, principal, mine_code, WRITE)
    if data.tested_at > now:
        raise Invalid("tested_at must not be in the future")
    equipment = None
    if data.equipment is not None:
        equipment = _in_service(session, mine, data.equipment)
        if equipment.kind != EquipmentKind.UPS:
            raise Invalid(f"equipment {equipment.id} ({equipment.name}) is not a UPS")
    row = UpsTest(
        mine_id=mine.id,
        equipment_id=None if equipment is None else equipment.id,
        tested_at=data.tested_at,
        minutes_on_backup=data.minutes_on_backup,
        passed=rules.ups_test_passed(data.minutes_on_backup),
        tested_by=data.tested_by,
        note=data.note or None,
        recorded_by=principal.name,
        created_at=now,
    )
    repository.add(session, row)
    _audit(session, principal, "ups_test.add", row.id, mine, data, now)
    return _ups_out(row, mine, None if equipment is None else equipment.name)


# ---- the fault register 故障登记 ------------------------------------------------------------


def list_faults(
    session: Session,
    principal: Principal,
    mine_code: str | None,
    *,
    open_only: bool,
    now: datetime,
) -> FaultList:
    """故障登记: the fault records (of the alarms, or by hand), newest first, in scope; not
    paged."""
    principal.require(VIEW)
    if mine_code is not None:
        visible_mine(session, principal, mine_code)
    return FaultList(items=faults.list_faults(session, principal, mine_code, open_only, now))
