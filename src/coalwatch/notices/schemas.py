"""What the API takes and answers about rectification notices and instructions."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from coalwatch.domain.notices import DEFAULT_ACK_HOURS, LINK_KINDS, MAX_ACK_HOURS
from coalwatch.schemas import Code, Instant

#: an attachment's size at most (bytes), and how many a document or an answer carries
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024
MAX_ATTACHMENTS = 5
#: the media types an attachment may have (a scan, a photo, a document)
MEDIA_TYPES = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "text/plain",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)

Kind = Literal["notice", "instruction"]
LinkKind = Literal["alarm", "fault", "overproduction", "finding"]
State = Literal["issued", "acknowledged", "answered", "returned", "closed"]
Text = Annotated[str, Field(min_length=1, max_length=8000)]
Note = Annotated[str, Field(max_length=4000)]
assert set(LINK_KINDS) == set(LinkKind.__args__)  # type: ignore[attr-defined]


def _decoded(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("content_b64 is not base64") from exc
    if not raw:
        raise ValueError("the file is empty")
    if len(raw) > MAX_ATTACHMENT_BYTES:
        raise ValueError(f"the file is larger than {MAX_ATTACHMENT_BYTES} bytes")
    return value


def _media_type(value: str) -> str:
    if value not in MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {', '.join(sorted(MEDIA_TYPES))}")
    return value


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    media_type: Annotated[str, AfterValidator(_media_type)]
    content_b64: Annotated[
        str, Field(max_length=MAX_ATTACHMENT_BYTES * 4 // 3 + 8), AfterValidator(_decoded)
    ]

    def content(self) -> bytes:
        return base64.b64decode(self.content_b64)


Attachments = Annotated[list[AttachmentIn], Field(max_length=MAX_ATTACHMENTS)]


class CiteIn(BaseModel):
    """What a document is about: an alarm or a fault by id (``ref``), an overproduction or
    a finding described in ``label``."""

    model_config = ConfigDict(extra="forbid")
    kind: LinkKind
    ref: Annotated[str, Field(min_length=1, max_length=18)] | None = None
    label: Annotated[str, Field(min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _either(self) -> CiteIn:
        if self.kind in ("alarm", "fault"):
            if self.ref is None or not (self.ref.isascii() and self.ref.isdigit()):
                raise ValueError(f"a cited {self.kind} needs its id as ref")
        elif self.label is None:
            raise ValueError(f"a cited {self.kind} needs a label that describes it")
        return self


class IssueIn(BaseModel):
    """A notice goes to one ``mine``; an instruction to one ``mine`` or to every mine of
    ``org`` (a unit of the issuer's subtree)."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind
    mine: Code | None = None
    org: Code | None = None
    title: Annotated[str, Field(min_length=1, max_length=200)]
    problem: Text
    measures: Annotated[str, Field(min_length=1, max_length=8000)] | None = None
    deadline: datetime
    ack_hours: Annotated[int, Field(ge=1, le=MAX_ACK_HOURS)] = DEFAULT_ACK_HOURS
    cites: Annotated[list[CiteIn], Field(max_length=50)] = Field(default_factory=list)
    attachments: Attachments = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> IssueIn:
        if self.deadline.tzinfo is None:
            raise ValueError("deadline needs a UTC offset")
        if self.kind == "notice":
            if self.mine is None or self.org is not None:
                raise ValueError("a notice goes to one mine: give mine, not org")
            if self.measures is None:
                raise ValueError("a notice states the measures required")
            if not self.cites:
                raise ValueError("a notice cites at least one alarm, fault or finding")
        elif (self.mine is None) == (self.org is None):
            raise ValueError("an instruction goes to one mine or to the mines of one org")
        return self


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the mine acknowledging (needed when the document went to several mines one sees)
    mine: Code | None = None
    #: to whom it was passed on (矿调度及有关负责人)
    passed_to: Annotated[str, Field(max_length=2000)] | None = None


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mine: Code | None = None
    answer: Text
    attachments: Attachments = Field(default_factory=list)


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mine: Code | None = None
    note: Note | None = None


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mine: Code | None = None
    reason: Annotated[str, Field(min_length=1, max_length=4000)]
    #: a new deadline (else the one before stands)
    deadline: datetime | None = None


class LinkOut(BaseModel):
    kind: str
    ref: str | None
    label: str


class AttachmentOut(BaseModel):
    id: int
    name: str
    media_type: str
    size: int
    sha256: str
    added_by: str
    added_at: Instant


class RecipientOut(BaseModel):
    mine: str
    mine_name: str
    state: State
    ack_due: Instant
    deadline: Instant
    #: what is overdue now: unacknowledged, unanswered
    overdue: list[str]
    acknowledged_by: str | None
    acknowledged_at: Instant | None
    passed_to: str | None
    answer: str | None
    answered_by: str | None
    answered_at: Instant | None
    verified_by: str | None
    verified_at: Instant | None
    verdict_note: str | None
    returns: int
    attachments: list[AttachmentOut]


class NoticeOut(BaseModel):
    number: str
    kind: Kind
    title: str
    problem: str
    measures: str | None
    issuer_unit: str
    issued_by: str
    issued_at: Instant
    ack_hours: int
    deadline: Instant
    #: an instruction to every mine of an org: that org's code
    org: str | None
    #: received from the upstream center: the unit that issued it there
    origin: str | None
    cites: list[LinkOut]
    attachments: list[AttachmentOut]
    recipients: list[RecipientOut]


class NoticeList(BaseModel):
    items: list[NoticeOut]


# ---- between centers: a document going down, a verdict going down, a reply going up ----


class IssuedCopy(BaseModel):
    """A document as it travels down to the center that holds the mine."""

    kind: Kind
    mine: str
    title: str
    problem: str
    measures: str | None
    issuer_unit: str
    issued_by: str
    issued_at: datetime
    ack_hours: int
    ack_due: datetime
    deadline: datetime
    cites: list[LinkOut]
    attachments: list[AttachmentIn]


class Verdict(BaseModel):
    """The issuer closed the notice at the mine, or sent it back."""

    mine: str
    state: Literal["closed", "returned"]
    by: str
    at: datetime
    note: str | None
    deadline: datetime
    returns: int


class Reply(BaseModel):
    """A mine's acknowledgement (``passed_to``) or answer, going up."""

    mine: str
    by: str
    at: datetime
    passed_to: str | None = None
    answer: str | None = None
    attachments: list[AttachmentIn] = []
