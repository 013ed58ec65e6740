from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Code, Instant, Name, NumberOut

OffenceCode = Literal[
    "uncertified_staff",
    "system_not_installed",
    "made_inoperable",
    "overproduction_not_corrected",
    "system_abandoned",
]
MannerCode = Literal[
    "line_signal",
    "line_internal",
    "line_power",
    "line_station",
    "scale_bypass",
    "scale_structure",
    "scale_replaced",
    "scale_struck",
    "host_lock",
    "host_water",
    "host_struck",
    "host_opened",
    "device_interference",
    "other_interference",
]
#: a fine in yuan, to the fen; the article's range is checked by the service (422)
Yuan = Annotated[Decimal, Field(ge=0, le=10_000_000, decimal_places=2, allow_inf_nan=False)]
EvidenceKind = Literal["alarm", "fault", "record"]


class EvidenceIn(BaseModel):
    """A link to an alarm or a fault record (its id) or a station's record ("S1:1234")
    of the mine; files are attached separately."""

    model_config = ConfigDict(extra="forbid")
    kind: EvidenceKind
    ref: Annotated[str, Field(min_length=1, max_length=200)]
    note: Annotated[str, Field(max_length=2000)] | None = None


class PenaltyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the decision's document number 文号
    number: Annotated[str, Field(min_length=1, max_length=100)]
    mine: Code
    offence: OffenceCode
    manner: MannerCode | None = None
    facts: Annotated[str, Field(min_length=1, max_length=8000)]
    found_on: date
    serious: bool = False
    enterprise_fine: Yuan
    principal_name: Name | None = None
    principal_fine: Yuan | None = None
    responsible_name: Name | None = None
    responsible_fine: Yuan | None = None
    stop_for_rectification: bool = False
    licence_held: bool = False
    decided_on: date
    evidence: Annotated[list[EvidenceIn], Field(max_length=200)] = []


class ExecutionIn(BaseModel):
    """The execution: the fines paid in full on, the orders carried out on (either or
    both at a time; the record is executed when all it decided is done)."""

    model_config = ConfigDict(extra="forbid")
    paid_on: date | None = None
    carried_out_on: date | None = None
    note: Annotated[str, Field(max_length=4000)] | None = None


class EvidenceOut(BaseModel):
    id: int
    kind: str
    ref: str
    note: str | None
    media_type: str | None
    sha256: str | None
    added_by: str
    added_at: Instant


class PenaltyOut(BaseModel):
    id: int
    number: str
    mine: str
    mine_name: str
    org: str
    offence: OffenceCode
    offence_label: str
    article: str
    manner: MannerCode | None
    manner_label: str | None
    facts: str
    found_on: date
    serious: bool
    enterprise_fine: NumberOut
    principal_name: str | None
    principal_fine: NumberOut | None
    responsible_name: str | None
    responsible_fine: NumberOut | None
    total_fine: NumberOut
    stop_for_rectification: bool
    licence_held: bool
    decided_on: date
    unit: str
    unit_name: str
    decided_by: str
    created_at: Instant
    status: Literal["decided", "executed"]
    paid_on: date | None
    carried_out_on: date | None
    execution_note: str | None
    executed_by: str | None
    executed_at: Instant | None
    evidence: list[EvidenceOut] = []


class PenaltyList(BaseModel):
    items: list[PenaltyOut]


class MineLine(BaseModel):
    """A mine's penalties of the period: how many, the fines decided and paid (yuan)."""

    mine: str
    name: str
    count: int
    serious: int
    executed: int
    enterprise: NumberOut
    principal: NumberOut
    responsible: NumberOut
    total: NumberOut
    paid: NumberOut
    unpaid: NumberOut


class PenaltyReport(BaseModel):
    org: str | None
    start: date
    end: date
    mines: list[MineLine]
    total: MineLine
