"""The schema. Every time-series table carries the mine in its key."""

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
    column,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime
from coalwatch.storage.crypto import SecretText


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


class Alarm(Base):
    """An alarm 报警 with its lifecycle: active → acknowledged → handled → closed."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_mine_state", "mine_id", "state"),
        # one alarm per condition while it holds, whoever raises it (two stations of a
        # mine in parallel, two centers on one database); a mirrored alarm is keyed by
        # its origin instead; the center's own alarms (no mine) count as mine 0
        Index(
            "uq_alarms_open_condition",
            func.coalesce(column("mine_id"), 0),
            "type",
            func.coalesce(column("point_id"), 0),
            func.coalesce(column("station_id"), 0),
            func.coalesce(column("subject"), ""),
            unique=True,
            postgresql_where=text('"end" IS NULL AND origin IS NULL'),
            sqlite_where=text('"end" IS NULL AND origin IS NULL'),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    value: Mapped[str | None] = mapped_column(String(64))
    threshold: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    #: JSON: the detail's code and its values, composed into a text per language (0017)
    params: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    #: what the alarm is about beyond mine/point/station (e.g. the hour of an overproduction)
    subject: Mapped[str | None] = mapped_column(String(64))
    #: when a condition bound to a period ends by itself (the period's end)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(200))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    #: a mirrored alarm: "<center>:<id>" of the alarm at the center that raised it
    origin: Mapped[str | None] = mapped_column(String(80), index=True)


class ApiToken(Base):
    """A Bearer token for scripts and third parties; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scope_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    write: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "script" (read or write) or "third_party" (财政/税务/安监: always read-only)
    kind: Mapped[str] = mapped_column(String(16), server_default="script")
    #: requests per minute this token may make (a token bucket in the center); None: no limit
    rate_limit_per_min: Mapped[int | None] = mapped_column(Integer)


class User(Base):
    """A person who signs in to the web UI."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    password_hash: Mapped[str] = mapped_column(String(256))
    #: created as an administrator (``coalwatch admin create``); rights come from roles
    is_admin: Mapped[bool] = mapped_column(Boolean)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: a disabled user cannot sign in (kept for the audit trail)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    #: the password was set by someone else: it must be changed at the next sign-in
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: failed sign-ins since the last success or lock-out
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the UI language the user chose ("zh_CN", "en")
    locale: Mapped[str | None] = mapped_column(String(16))


class Role(Base):
    """A role 角色: a named set of permission strings (``monitor:view``, ``*`` ...)."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the permission strings, space-separated and sorted
    permissions: Mapped[str] = mapped_column(Text)
    #: created with the system; it can be edited but not deleted
    builtin: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserRole(Base):
    """Which roles a user has."""

    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), primary_key=True, index=True)


class Threshold(Base):
    """A rule setting changed by an administrator, for a mine or one of its points."""

    __tablename__ = "thresholds"
    __table_args__ = (UniqueConstraint("mine_id", "point_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Permit(Base):
    """An approved maintenance permit 开盖/调参审批: door and parameter events inside are only
    logged."""

    __tablename__ = "permits"
    __table_args__ = (Index("ix_permits_mine_window", "mine_id", "start", "end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Shutdown(Base):
    """A declared shutdown 停产报备 (renovation, maintenance) of a mine."""

    __tablename__ = "shutdowns"
    __table_args__ = (Index("ix_shutdowns_mine_window", "mine_id", "start", "end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    declared_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the supervising unit's acknowledgement 停产确认 (who, when); None: not yet
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the written report 书面报告 (a document of the mine's archive) and when it was filed
    report_document_id: Mapped[int | None] = mapped_column(ForeignKey("archive_documents.id"))
    report_filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: declared after the stop began, or its written report filed after it (server time)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: resumption 复产: when the mine means to produce again, who asked, when
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resumption_requested_by: Mapped[str | None] = mapped_column(String(200))
    resumption_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the supervising unit's acknowledgement of the resumption 复产确认
    resumption_acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resumption_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    # The ledger's detail (migration 0007, coalwatch.records); None on a calibration
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


class Fault(Base):
    """A system fault record 故障记录, with its report upward and its recovery."""

    __tablename__ = "faults"
    __table_args__ = (Index("ix_faults_mine_open", "mine_id", "closed_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"))
    kind: Mapped[str] = mapped_column(String(40))
    #: 现象: what was observed
    phenomenon: Mapped[str] = mapped_column(Text)
    #: JSON: what the system saw (its alarm's type and detail params) when it opened the
    #: fault, composed into a phenomenon per language (0017); None when entered by hand
    params: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_by: Mapped[str | None] = mapped_column(String(200))
    #: "system" (reported through the center) or "phone" (recorded as reported by
    #: telephone, for the supervising unit to confirm); ``reported_at`` is the server's
    #: time of the act either way
    reported_via: Mapped[str | None] = mapped_column(String(16))
    report_note: Mapped[str | None] = mapped_column(Text)
    report_confirmed_by: Mapped[str | None] = mapped_column(String(200))
    report_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 处理结果
    result: Mapped[str | None] = mapped_column(Text)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    reduction_id: Mapped[int | None] = mapped_column(ForeignKey("capacity_reductions.id"))
    opened_by: Mapped[str] = mapped_column(String(200))


class AuditEntry(Base):
    """The audit log: append-only, each entry hashing the one before it."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_key: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class NotificationChannel(Base):
    """Where alarms are sent: webhook (json / WeCom / DingTalk), SMTP e-mail, SMS gateway."""

    __tablename__ = "notification_channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: JSON: url / smtp host, port, sender, recipients / sms url and template ...;
    #: encrypted at rest (URLs carry access tokens, SMTP and SMS their passwords)
    settings: Mapped[str] = mapped_column(SecretText)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscription(Base):
    """Which alarms a channel receives: by role, mine (None: all in scope) and severity."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id"))
    role: Mapped[str] = mapped_column(String(32))
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"))
    min_severity: Mapped[str] = mapped_column(String(16))


class Delivery(Base):
    """One message to one channel, retried with backoff until sent or given up."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id"))
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"))
    transition: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FeeItem(Base):
    """A fee or tax charged per tonne of raw coal 收费项目 (资源税, 煤炭价格调节基金 ...)."""

    __tablename__ = "fee_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FeeRate(Base):
    """A fee item's rate from a date on, in 1/10,000 yuan per tonne of raw coal (exact).

    Never changed or deleted: a correction is a new row for the same date, and of
    two rows for one date the later added is in force.
    """

    __tablename__ = "fee_rates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fee_item_id: Mapped[int] = mapped_column(ForeignKey("fee_items.id"), index=True)
    #: yuan per tonne × 10,000 (a rate has at most 4 decimals)
    rate_ten_thousandths: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportShifts(Base):
    """A mine's shifts 班次 for its reports, as JSON ``[{"name", "start_hour", "hours"}]``
    (a mine without a row has the default three shifts of 8 hours)."""

    __tablename__ = "report_shifts"
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), primary_key=True)
    shifts: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportRevision(Base):
    """One revision of a mine's daily monitoring report 监测日报表: a frozen snapshot of its
    computed content (JSON text) and the SHA-256 of that text.

    Frozen from its first signature: a later correction of the day's figures creates the
    next revision, and the signed one stays as it was.
    """

    __tablename__ = "report_revisions"
    __table_args__ = (UniqueConstraint("mine_id", "day", "revision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    #: the mine-local calendar day the report covers
    day: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    generated_by: Mapped[str] = mapped_column(String(200))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: all three have signed and the report went upward 上报
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportSignature(Base):
    """An electronic signature 审阅签字 on a report revision, in the order of SIGNING_ORDER."""

    __tablename__ = "report_signatures"
    __table_args__ = (UniqueConstraint("revision_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("report_revisions.id"))
    #: duty_operator | duty_mine_manager | chief_engineer
    role: Mapped[str] = mapped_column(String(32))
    signer: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the SHA-256 of the content that was signed
    sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ForwardItem(Base):
    """An item waiting to go to the upstream center 上级中心 (federation), in order: the
    id is its sequence number at the upstream. Written in the transaction of the change
    it carries; deleted once the upstream holds it."""

    __tablename__ = "forward_queue"
    #: ids are never reused, even once the queue is empty: they are seqs at the upstream
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: station_batch | config
    kind: Mapped[str] = mapped_column(String(32))
    #: the item as JSON text
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DownstreamCenter(Base):
    """A downstream center 下级中心 that forwards the data of the subtree of ``org_id``,
    with the state of its sequence numbers (as a station's)."""

    __tablename__ = "downstream_centers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    #: the highest seq received; every seq below is held or listed in ``gaps``
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the runs of seqs not received, JSON ``[[from, to], ...]``
    gaps: Mapped[str] = mapped_column(Text, default="[]")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FederationReject(Base):
    """An item a downstream center sent that could not be applied, and why."""

    __tablename__ = "federation_rejects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("downstream_centers.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The tables of later features live in modules of their own; importing them here puts
# them in the metadata wherever the models are used.
from coalwatch.acceptance import models as acceptance_models  # noqa: E402
from coalwatch.archive import models as archive_models  # noqa: E402
from coalwatch.audit import models as audit_models  # noqa: E402
from coalwatch.auth import models as auth_models  # noqa: E402
from coalwatch.exchange import models as exchange_models  # noqa: E402
from coalwatch.federation import models as federation_models  # noqa: E402
from coalwatch.horizon import models as horizon_models  # noqa: E402
from coalwatch.integrity import models as integrity_models  # noqa: E402
from coalwatch.limits import models as limits_models  # noqa: E402
from coalwatch.notices import models as notices_models  # noqa: E402
from coalwatch.partitions import models as partition_models  # noqa: E402
from coalwatch.penalties import models as penalties_models  # noqa: E402
from coalwatch.people import models as people_models  # noqa: E402
from coalwatch.routines import models as routines_models  # noqa: E402
from coalwatch.signals import models as signals_models  # noqa: E402
from coalwatch.stationconfig import models as stationconfig_models  # noqa: E402
from coalwatch.storage import (  # noqa: E402
    models_backups,
    models_duty,
    models_federation_more,
    models_leases,
    models_ledgers,
    models_sessions,
    models_video,
)
from coalwatch.summaries import models as summaries_models  # noqa: E402
from coalwatch.suspects import models as suspect_models  # noqa: E402
from coalwatch.workflows import models as workflow_models  # noqa: E402

__all__ = [
    "acceptance_models",
    "archive_models",
    "audit_models",
    "auth_models",
    "exchange_models",
    "federation_models",
    "horizon_models",
    "integrity_models",
    "limits_models",
    "models_backups",
    "models_duty",
    "models_federation_more",
    "models_leases",
    "models_ledgers",
    "models_sessions",
    "models_video",
    "notices_models",
    "partition_models",
    "penalties_models",
    "people_models",
    "routines_models",
    "signals_models",
    "stationconfig_models",
    "summaries_models",
    "suspect_models",
    "workflow_models",
]
