from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.domain.alarms import THRESHOLD_LIMITS
from coalwatch.schemas import Instant


class LimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the shortened limit, in the unit its name says; null returns to the level above's
    value: Annotated[int, Field(ge=0, le=max(THRESHOLD_LIMITS.values()))] | None


class LimitOut(BaseModel):
    """One legal limit 法定时限 as it holds for an org or a mine."""

    name: str
    #: the rulebook's value: the longest it may be
    rulebook: int
    #: what holds: the shortest of the rulebook's and of the levels at and above
    effective: int
    #: the org (or, for a limit shortened for one mine, the mine) whose value holds;
    #: None: the rulebook's
    set_at: str | None
    #: that level's kind: province, city, county, company or mine
    set_level: str | None
    set_by: str | None
    set_on: Instant | None
    #: the value set at the org asked about itself (None: inherited)
    own: int | None


class LimitsOut(BaseModel):
    #: the org or mine asked about
    code: str
    items: list[LimitOut]
