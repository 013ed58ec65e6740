"""Tables of the people of a unit: persons, their certificates and renewals, the unit's
staffing rules, and the roster with its sign-ons.

A unit 单位 is a mine (``mine_id`` set, ``org_id`` its org) or a supervising center
(``mine_id`` null, ``org_id`` the county, city or province office).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class Person(Base):
    """A person of a unit 工作人员, with the position held and the user account (if any)."""

    __tablename__ = "people"
    __table_args__ = (Index("ix_people_org_mine", "org_id", "mine_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"))
    name: Mapped[str] = mapped_column(String(200))
    #: the ID number as it is kept: masked (first 3 and last 4 characters)
    id_number: Mapped[str] = mapped_column(String(32))
    position: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    active: Mapped[bool]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Certificate(Base):
    """A certificate 上岗资格证书: valid for two years from its issue, extended by renewals."""

    __tablename__ = "certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(64))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(Date)
    #: the last valid day, the latest renewal's
    valid_through: Mapped[date] = mapped_column(Date)
    #: the scanned certificate (PDF or image), its media type and file name
    scan: Mapped[bytes | None] = mapped_column(LargeBinary)
    scan_type: Mapped[str | None] = mapped_column(String(64))
    scan_name: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CertificateRenewal(Base):
    """A renewal 延期 after retraining: the renewing office, the day, the new validity."""

    __tablename__ = "certificate_renewals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    renewed_by: Mapped[str] = mapped_column(String(200))
    renewed_on: Mapped[date] = mapped_column(Date)
    valid_through: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffingRule(Base):
    """A unit's own staffing rules: its minimum per shift (at least the regulation's) and
    how early the incoming staff arrive for the handover."""

    __tablename__ = "staffing_rules"
    #: "mine:<id>" or "org:<id>"
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    min_staff: Mapped[int | None] = mapped_column(Integer)
    early_minutes: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RosterEntry(Base):
    """A person on a shift of a unit 排班 (按名单轮流上岗); a substitution 顶班 names whom
    it replaces and waits for the unit's leader; sign-on and sign-off are in the system."""

    __tablename__ = "roster_entries"
    __table_args__ = (
        UniqueConstraint("unit", "day", "shift", "person_id"),
        Index("ix_roster_entries_unit_day", "unit", "day"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str] = mapped_column(String(32))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"))
    day: Mapped[date] = mapped_column(Date)
    shift: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    #: rostered | requested (a substitution waiting) | rejected | replaced
    status: Mapped[str] = mapped_column(String(16))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_on_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
