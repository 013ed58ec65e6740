from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Instant

AlarmState = Literal["active", "acknowledged", "handled", "closed"]


class AlarmOut(BaseModel):
    id: int
    type: str
    severity: str
    #: none for an alarm of the center itself (e.g. its audit log)
    mine: str | None
    point: str | None
    start: Instant
    end: Instant | None
    value: str | None
    threshold: str | None
    detail: str | None
    #: the detail's code and values (the texts are composed from them per language)
    params: dict[str, str] | None = None
    state: AlarmState
    acknowledged_by: str | None
    acknowledged_at: Instant | None
    handled_by: str | None
    handled_at: Instant | None
    result: str | None


class AlarmList(BaseModel):
    items: list[AlarmOut]


class HandleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]


class AlarmView(AlarmOut):
    """An alarm as the console shows it: with the mine's name and the type's label."""

    mine_name: str
    label: str
