"""The center↔upstream messages, and registration of a downstream center."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Code
from coalwatch.wire.types import Moment


class CenterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    #: base64 of the raw 32 bytes of the downstream center's Ed25519 public key
    public_key: str = Field(max_length=64)
    #: the org whose subtree the center sends data for
    org: Code


class CenterOut(BaseModel):
    code: str
    public_key: str
    org: str
    acked_seq: int
    last_seen_at: datetime | None


class CenterList(BaseModel):
    items: list[CenterOut]


class ForwardedItem(BaseModel):
    seq: int = Field(ge=1, le=2**62)
    kind: str = Field(max_length=32)
    payload: dict[str, Any]


class ForwardBatch(BaseModel):
    """What a downstream center sends, signed with its key over the exact body."""

    center: str = Field(max_length=64)
    sent_at: Moment
    items: list[ForwardedItem]
    #: runs of ids that will never come (taken by a transaction that rolled back)
    written_off: list[tuple[int, int]] = Field(default_factory=list, max_length=1000)


class Rejected(BaseModel):
    seq: int
    reason: str
    #: the HTTP status the item alone would have had (403: configuration refused)
    status: int | None = None


class ForwardAnswer(BaseModel):
    #: every seq up to this one is held (applied or rejected) or listed in gaps
    acked_seq: int
    duplicates: int
    rejected: list[Rejected]
    gaps: list[tuple[int, int]]


class RejectOut(BaseModel):
    seq: int
    kind: str
    reason: str
    received_at: datetime


class RejectList(BaseModel):
    items: list[RejectOut]


class CheckpointOut(BaseModel):
    """A signed audit checkpoint (the lines of the center's checkpoint file)."""

    at: datetime
    entry_count: int
    head_id: int
    head_hash: str
    public_key: str
    signature: str


class CheckpointList(BaseModel):
    items: list[CheckpointOut]
