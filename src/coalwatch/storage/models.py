"""The shared core of the schema: the organisation tree, mines and their yardsticks,
stations, points, records and the production rollups. Every time-series table carries
the mine in its key."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime


class Org(Base):
    """A node of the organisation tree 单位: province, city, county, company."""

    __tablename__ = "orgs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    #: ids from the root down to this node, "/1/4/9/": a subtree is a prefix
    path: Mapped[str] = mapped_column(String(512), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Mine(Base):
    """A mine 矿井."""

    __tablename__ = "mines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the downstream center that evaluates this mine's alarm rules (this center mirrors
    #: its alarms rather than raising its own); None: this center evaluates them
    managed_by_center_id: Mapped[int | None] = mapped_column(ForeignKey("downstream_centers.id"))


class Capacity(Base):
    """Approved annual capacity A 核定年生产能力, effective-dated."""

    __tablename__ = "capacities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    annual_kg: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the licence document 核定文件 that decided it (number, date), and who recorded it
    licence_no: Mapped[str | None] = mapped_column(String(200))
    licence_date: Mapped[date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(200))


class CapacityReduction(Base):
    """A capacity reduction 核减, as an exact fraction of a kilogram."""

    __tablename__ = "capacity_reductions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    amount_kg_num: Mapped[int] = mapped_column(BigInteger)
    amount_kg_den: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: "pending" (computed by the rule, counted at once), "confirmed" or "waived" (not
    #: counted) by the supervising unit; a pending fault reduction grows with its fault
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)


class Plan(Base):
    """A production plan 产量计划 for one month (and each of its days and hours)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("mine_id", "month"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    month: Mapped[date] = mapped_column(Date)
    month_kg: Mapped[int] = mapped_column(BigInteger)
    day_kg: Mapped[int | None] = mapped_column(BigInteger)
    hour_kg: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Coefficient(Base):
    """An approved deduction coefficient 折算系数, kept as history."""

    __tablename__ = "coefficients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    hundredths: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CoefficientSpan(Base):
    """Non-overlapping spans of the coefficient in force, derived from the approvals.

    Rebuilt for a mine whenever an approval is added, so that figures can join
    daily production to its coefficient in SQL.
    """

    __tablename__ = "coefficient_spans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    coefficient_id: Mapped[int] = mapped_column(ForeignKey("coefficients.id"))
    hundredths: Mapped[int] = mapped_column(Integer)
    day_from: Mapped[date] = mapped_column(Date)
    day_to: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_coefficient_spans_mine_days", "mine_id", "day_from", "day_to"),)


class Point(Base):
    """A metering point 计量点, with the state of its last totalizer reading."""

    __tablename__ = "points"
    __table_args__ = (UniqueConstraint("mine_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    rollover_kg: Mapped[int | None] = mapped_column(BigInteger)
    #: the most the belt carries (kg/h): an increment beyond it × the time is suspect
    max_flow_kgph: Mapped[int | None] = mapped_column(BigInteger)
    min_trip_kg: Mapped[int | None] = mapped_column(BigInteger)
    window_min: Mapped[int | None] = mapped_column(Integer)
    window_min_kg: Mapped[int | None] = mapped_column(BigInteger)
    last_total_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_total_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_total_kg: Mapped[int | None] = mapped_column(BigInteger)
    #: the flow rate reported with the last reading (kg/h), if it reported one
    last_flow_kgph: Mapped[int | None] = mapped_column(BigInteger)
    #: when the center last received a totalizer sample of the point, on its own clock
    #: (silence is measured on it, whatever the station's clock says)
    last_sample_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the point's conveyor record latest by (ts, seq): the conveyor's state since then
    last_conveyor_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_conveyor_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_conveyor_running: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Station(Base):
    """A mine-side station 主站 and the state of its sequence numbers."""

    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    #: the highest seq received; every seq below is held or listed in station_gaps
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StationGap(Base):
    """A run of sequence numbers a station skipped (inclusive)."""

    __tablename__ = "station_gaps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    seq_from: Mapped[int] = mapped_column(BigInteger)
    seq_to: Mapped[int] = mapped_column(BigInteger)


class Record(Base):
    """Every accepted station record, as received, with the production it contributed."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("mine_id", "station_id", "seq"),
        Index("ix_records_point_ts", "point_id", "ts"),
        # a point's latest records of one type (conveyor states, last readings) without
        # walking its other records: a belt with no conveyor sensor has none (0014)
        Index("ix_records_point_type_ts", "point_id", "type", "ts"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(16))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    #: totalizer reading or trip net weight
    value_kg: Mapped[int | None] = mapped_column(BigInteger)
    #: production this record contributed to its hour (totalizer delta, trip weight)
    increment_kg: Mapped[int | None] = mapped_column(BigInteger)
    #: baseline / normal / rollover / reset for totalizer samples
    increment_kind: Mapped[str | None] = mapped_column(String(16))
    flow_kgph: Mapped[int | None] = mapped_column(BigInteger)
    running: Mapped[bool | None] = mapped_column(Boolean)
    event: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the signed batch that brought it (integrity.models.SignedBatch); none for records
    #: accepted before batches were kept
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    #: the station's own timestamp, kept when it was too far in the future to be trusted:
    #: the record is then accounted at ``ts`` = when the center received it (clock skew)
    station_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QuarantinedRecord(Base):
    """A record that failed validation, kept with its reason."""

    __tablename__ = "quarantined_records"
    __table_args__ = (UniqueConstraint("mine_id", "station_id", "seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HourlyProduction(Base):
    """Production per point and hour, maintained by ingest in the records' transaction."""

    __tablename__ = "hourly_production"
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    #: the mine-local calendar date of the hour (the date its coefficient is taken on)
    local_day: Mapped[date] = mapped_column(Date)
    measured_kg: Mapped[int] = mapped_column(BigInteger, default=0)
    manual_kg: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyProduction(Base):
    """Production per point and mine-local day, maintained with the hourly rollup."""

    __tablename__ = "daily_production"
    __table_args__ = (Index("ix_daily_production_day_mine", "local_day", "mine_id"),)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"), primary_key=True)
    local_day: Mapped[date] = mapped_column(Date, primary_key=True)
    measured_kg: Mapped[int] = mapped_column(BigInteger, default=0)
    manual_kg: Mapped[int] = mapped_column(BigInteger, default=0)


class MinePeriodTotal(Base):
    """A mine's production of one month or year (mine-local days), kept running: every
    addition to the rollups adds to it in the same statement, and a change of the
    coefficients in force recomputes it from the daily rollups. The overproduction rules
    read a month or a year here instead of summing its days; ``coalwatch verify`` proves
    it against the daily rollups."""

    __tablename__ = "mine_period_totals"
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), primary_key=True)
    #: "month" or "year"
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: the period's first local day
    start_day: Mapped[date] = mapped_column(Date, primary_key=True)
    measured_kg: Mapped[int] = mapped_column(BigInteger)
    manual_kg: Mapped[int] = mapped_column(BigInteger)
    #: raw coal in 1/10,000 kg: each day's gross × (10,000 − the hundredths in force)
    raw_units: Mapped[int] = mapped_column(BigInteger)


class ManualProduction(Base):
    """Production recorded by hand 人工录入 during a metering fault."""

    __tablename__ = "manual_production"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    gross_kg: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    #: the window overlaps measured production: flagged for review
    overlaps_measured: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Each feature keeps its own tables in its package (<feature>/models.py); importing them
# here puts every table in the metadata wherever the models are used (Alembic, backups).
from coalwatch.acceptance import models as acceptance_models  # noqa: E402
from coalwatch.alarms import models as alarms_models  # noqa: E402
from coalwatch.archive import models as archive_models  # noqa: E402
from coalwatch.audit import models as audit_models  # noqa: E402
from coalwatch.auth import models as auth_models  # noqa: E402
from coalwatch.backups import models as backups_models  # noqa: E402
from coalwatch.duty import models as duty_models  # noqa: E402
from coalwatch.exchange import models as exchange_models  # noqa: E402
from coalwatch.faults import models as faults_models  # noqa: E402
from coalwatch.federation import models as federation_models  # noqa: E402
from coalwatch.horizon import models as horizon_models  # noqa: E402
from coalwatch.integrity import models as integrity_models  # noqa: E402
from coalwatch.jobs import models as jobs_models  # noqa: E402
from coalwatch.limits import models as limits_models  # noqa: E402
from coalwatch.notices import models as notices_models  # noqa: E402
from coalwatch.partitions import models as partitions_models  # noqa: E402
from coalwatch.penalties import models as penalties_models  # noqa: E402
from coalwatch.people import models as people_models  # noqa: E402
from coalwatch.permits import models as permits_models  # noqa: E402
from coalwatch.records import models as records_models  # noqa: E402
from coalwatch.reports import models as reports_models  # noqa: E402
from coalwatch.routines import models as routines_models  # noqa: E402
from coalwatch.settlement import models as settlement_models  # noqa: E402
from coalwatch.signals import models as signals_models  # noqa: E402
from coalwatch.stationconfig import models as stationconfig_models  # noqa: E402
from coalwatch.summaries import models as summaries_models  # noqa: E402
from coalwatch.suspects import models as suspects_models  # noqa: E402
from coalwatch.users import models as users_models  # noqa: E402
from coalwatch.video import models as video_models  # noqa: E402
from coalwatch.workflows import models as workflows_models  # noqa: E402

__all__ = [
    "acceptance_models",
    "alarms_models",
    "archive_models",
    "audit_models",
    "auth_models",
    "backups_models",
    "duty_models",
    "exchange_models",
    "faults_models",
    "federation_models",
    "horizon_models",
    "integrity_models",
    "jobs_models",
    "limits_models",
    "notices_models",
    "partitions_models",
    "penalties_models",
    "people_models",
    "permits_models",
    "records_models",
    "reports_models",
    "routines_models",
    "settlement_models",
    "signals_models",
    "stationconfig_models",
    "summaries_models",
    "suspects_models",
    "users_models",
    "video_models",
    "workflows_models",
]
