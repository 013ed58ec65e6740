from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from coalwatch.domain.alarms import AlarmType


class SignalTypesIn(BaseModel):
    """The alarm types that sound the beacons 声光预警 (an empty list: none sound)."""

    types: Annotated[list[AlarmType], Field(max_length=len(AlarmType))]


class SignalTypesOut(BaseModel):
    #: the org or mine the choice was asked for
    target: str
    types: list[str]
    #: where the choice in force was made: "mine M1", "org C1", or "default"
    decided_for: str
    decided_by: str | None
    decided_at: datetime | None
