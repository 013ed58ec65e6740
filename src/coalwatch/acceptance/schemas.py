from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Instant

Kind = Literal["acceptance", "resumption", "inspection", "suspension"]
State = Literal["under_construction", "accepted", "suspended"]


class DecisionIn(BaseModel):
    """A supervising unit's decision on a mine's monitoring system. An acceptance,
    resumption or inspection that passes names its record and the next annual
    inspection's due day; a failed one and a suspension say why."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind
    passed: bool = True
    #: the day of the act, as on its record (not after today)
    decided_on: date
    record_no: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    note: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    inspection_due: date | None = None


class DecisionOut(BaseModel):
    id: int
    kind: Kind
    passed: bool
    state: State
    decided_on: date
    decided_at: Instant
    decided_by: str
    unit: str | None
    unit_name: str | None
    record_no: str | None
    note: str | None
    inspection_due: date | None
    #: the acceptance record's file, when attached: its name and SHA-256
    record_name: str | None
    record_sha256: str | None


class AcceptanceOut(BaseModel):
    mine: str
    name: str
    org: str
    state: State
    #: the mark production of the mine carries while it is not accepted
    accepted: bool
    #: since when the state holds (the mine's creation when never decided)
    since: Instant
    #: the acceptance in force (the last that passed): by whom, which unit, when
    accepted_by: str | None
    accepted_unit: str | None
    accepted_on: date | None
    record_no: str | None
    inspection_due: date | None
    inspection_overdue: bool
    decisions: list[DecisionOut] = []


class AcceptanceList(BaseModel):
    items: list[AcceptanceOut]
