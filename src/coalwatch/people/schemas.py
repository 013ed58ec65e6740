"""People 工作人员, certificates 上岗资格证书, staffing rules and rosters 排班."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Code, Instant, Name
from coalwatch.wire.types import Day

Position = Literal[
    "operator",
    "maintainer",
    "calibrator",
    "dispatcher",
    "duty_mine_manager",
    "center_staff",
    "leader",
]
CertificateKind = Literal["monitoring", "calibration"]
Short = Annotated[str, Field(min_length=1, max_length=64, pattern=r"\S")]
Office = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Note = Annotated[str, Field(max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(_In):
    """A person of the unit; the ID number is masked before it is stored; ``user`` links
    the person to a user account (by its username)."""

    name: Name
    id_number: Annotated[str, Field(min_length=8, max_length=32, pattern=r"^[0-9A-Za-z]+$")]
    position: Position
    user: Code | None = None


class CertificateIn(_In):
    kind: CertificateKind = "monitoring"
    number: Short
    issued_by: Office
    issued_on: Day


class RenewalIn(_In):
    """A renewal 延期 after retraining: the renewing office and the day."""

    renewed_by: Office
    renewed_on: Day


class RenewalOut(BaseModel):
    renewed_by: str
    renewed_on: Day
    valid_through: Day


class CertificateOut(BaseModel):
    id: int
    kind: str
    number: str
    issued_by: str
    issued_on: Day
    valid_through: Day
    warning_from: Day
    state: str
    renewals: list[RenewalOut]
    scan: bool


class PersonOut(BaseModel):
    id: int
    unit: str
    unit_name: str
    name: str
    id_number: str
    position: str
    user: str | None
    #: the longest lasting certificate's last valid day, and the person's state
    valid_through: Day | None
    state: str
    certificates: list[CertificateOut]


class PersonList(BaseModel):
    items: list[PersonOut]


class StaffingIn(_In):
    """A unit's own rules: a minimum per shift above the regulation's (null: the
    regulation's), and the minutes the staff arrive before a shift (10 to 60)."""

    min_staff: Annotated[int, Field(ge=1, le=50)] | None = None
    early_minutes: Annotated[int, Field(ge=10, le=60)] = 10


class StaffingOut(BaseModel):
    unit: str
    supervising: bool
    floor: int
    min_staff: int
    early_minutes: int


class RosterIn(_In):
    day: Day
    shift: Short
    person: Annotated[int, Field(ge=1)]


class SubstitutionIn(RosterIn):
    """Someone takes the place of a rostered person 顶班; the unit's leader decides."""

    replaces: Annotated[int, Field(ge=1)]
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class DecisionIn(_In):
    approve: bool
    note: Note | None = None


class RosterEntryOut(BaseModel):
    id: int
    unit: str
    day: Day
    shift: str
    person: int
    person_name: str
    status: str
    replaces: int | None
    replaces_name: str | None
    reason: str | None
    decided_by: str | None
    signed_on_at: Instant | None
    signed_off_at: Instant | None
    late: bool
    certificate: str


class ShiftStaffing(BaseModel):
    day: Day
    shift: str
    start: Instant
    end: Instant
    minimum: int
    rostered: int
    signed_on: int
    short: bool
    judged: bool
    entries: list[RosterEntryOut]


class RosterOut(BaseModel):
    unit: str
    unit_name: str
    staffing: StaffingOut
    shifts: list[ShiftStaffing]


class SignOnIn(_In):
    """Sign on (or off) for a shift; the day and shift default to the one starting next
    or running now."""

    day: Day | None = None
    shift: Short | None = None


SignAct = Literal["on", "off"]
