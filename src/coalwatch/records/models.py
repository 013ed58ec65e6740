"""The ledgers kept with the records: calibrations 调校, equipment, maintenance, UPS tests.

Nothing here is ever deleted by the application (records are kept at least 2 years).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class Calibration(Base):
    """A calibration 调校 of a belt scale (the ledger's detail comes with the records)."""

    __tablename__ = "calibrations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"), index=True)
    #: the day the 15 days count from: the confirming run's (or, pending, the first run's)
    calibrated_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The ledger's detail (the calibration runs); None on a calibration
    # recorded without its runs. A pending one (first run, no confirming second run) does
    # not count for calibration_overdue.
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_run_on: Mapped[date | None] = mapped_column(Date)
    #: interval values 间隔值 and error percentages as exact decimal strings
    old_interval: Mapped[str | None] = mapped_column(String(64))
    new_interval: Mapped[str | None] = mapped_column(String(64))
    error_percent: Mapped[str | None] = mapped_column(String(64))
    first_actual_kg: Mapped[int | None] = mapped_column(BigInteger)
    first_indicated_kg: Mapped[int | None] = mapped_column(BigInteger)
    second_actual_kg: Mapped[int | None] = mapped_column(BigInteger)
    second_indicated_kg: Mapped[int | None] = mapped_column(BigInteger)
    calibrated_by: Mapped[str | None] = mapped_column(String(200))
    witness: Mapped[str | None] = mapped_column(String(200))
    written_to_instrument: Mapped[bool | None] = mapped_column(Boolean)


class Equipment(Base):
    """An item of the equipment ledger 设备仪表台账."""

    __tablename__ = "equipment"
    __table_args__ = (Index("ix_equipment_mine_status", "mine_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(200))
    #: 矿用产品安全标志编号 (MA)
    ma_mark: Mapped[str | None] = mapped_column(String(100))
    #: 防爆合格证编号
    ex_certificate: Mapped[str | None] = mapped_column(String(100))
    installed_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    #: 报废: the seed's criterion, when, who, why, and (for the repair-cost criterion)
    #: the figures in fen (0.01 yuan)
    scrap_criterion: Mapped[str | None] = mapped_column(String(32))
    scrapped_on: Mapped[date | None] = mapped_column(Date)
    scrapped_by: Mapped[str | None] = mapped_column(String(200))
    scrap_note: Mapped[str | None] = mapped_column(Text)
    repair_cost_fen: Mapped[int | None] = mapped_column(BigInteger)
    original_value_fen: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MaintenanceRecord(Base):
    """A maintenance record 检修记录: what was done, to what, when, by whom, the result."""

    __tablename__ = "maintenance_records"
    __table_args__ = (Index("ix_maintenance_records_mine_start", "mine_id", "start"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    performed_by: Mapped[str] = mapped_column(String(200))
    result: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UpsTest(Base):
    """A UPS test: mains off by hand, minutes carried on backup power (15 to pass)."""

    __tablename__ = "ups_tests"
    __table_args__ = (Index("ix_ups_tests_mine_tested_at", "mine_id", "tested_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    tested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes_on_backup: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool]
    tested_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
