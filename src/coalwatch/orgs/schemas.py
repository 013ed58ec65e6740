from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from coalwatch.schemas import Code, Name

OrgKind = Literal["province", "city", "county", "company"]


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    name: Name
    kind: OrgKind
    parent: Code | None = None


class OrgOut(BaseModel):
    code: str
    name: str
    kind: str
    parent: str | None


class OrgList(BaseModel):
    items: list[OrgOut]
