"""The station upload protocol (contract.md, "Station upload").

Records are validated one by one so that a bad record is quarantined with its
reason while the rest of the batch is kept. Numbers are parsed as Decimal so
that a tonne figure is never a binary float on its way in.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from coalwatch.domain.limits import MAX_FLOW_TPH
from coalwatch.domain.units import tonnes_to_kg
from coalwatch.wire.types import Moment, TonnesBound

EVENTS = (
    "enclosure_open",
    "enclosure_closed",
    "parameter_change",
    "power_off",
    "power_on",
    "device_fault",
    "device_ok",
    "camera_fault",
    "camera_ok",
    "signal_on",
    "signal_off",
    "invalid_data",
)
EventName = Literal[
    "enclosure_open",
    "enclosure_closed",
    "parameter_change",
    "power_off",
    "power_on",
    "device_fault",
    "device_ok",
    "camera_fault",
    "camera_ok",
    # the point's sound-and-light warning 声光预警 was switched on / off (who, why: detail)
    "signal_on",
    "signal_off",
    #: an optional value a device reported out of range (left out of the readings)
    "invalid_data",
]


def _exact_tonnes(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    tonnes_to_kg(value)  # raises when finer than 1 kg or not finite
    return value


Tonnes = Annotated[Decimal, TonnesBound, AfterValidator(_exact_tonnes)]
Code = Annotated[str, Field(min_length=1, max_length=64)]
#: the largest seq storage holds (a signed 64-bit integer, BIGINT)
MAX_SEQ = 2**63 - 1
Seq = Annotated[int, Field(ge=1, le=MAX_SEQ, strict=True)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    seq: Seq
    ts: Moment


Flow = Annotated[Decimal, Field(ge=0, le=MAX_FLOW_TPH, allow_inf_nan=False)]
_flow: TypeAdapter[Decimal] = TypeAdapter(Flow)


class TotalizerRecord(_Record):
    """A belt scale's cumulative totalizer reading (t) and optional flow (t/h)."""

    type: Literal["totalizer"]
    point: Code
    total_t: Tonnes
    flow_tph: Flow | None = None
    #: a flow out of range as it was sent: left out, the reading counts all the same
    #: (an optional value never sinks a reading); not a field a station sends
    dropped_flow: Annotated[str, Field(max_length=40)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_bad_flow(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "dropped_flow" in data:
                data = {k: v for k, v in data.items() if k != "dropped_flow"}
            flow = data.get("flow_tph")
            if flow is not None and not _plain_flow(flow):
                try:
                    _flow.validate_python(flow)
                except ValidationError:
                    return {**data, "flow_tph": None, "dropped_flow": str(flow)[:40]}
        return data


def _plain_flow(value: Any) -> bool:
    """A flow ``Flow`` surely accepts as it is: a finite Decimal (as JSON numbers with a
    fraction are parsed) or an int, within its range. Anything else is validated."""
    if type(value) is Decimal:
        return value.is_finite() and 0 <= value <= MAX_FLOW_TPH
    return type(value) is int and 0 <= value <= MAX_FLOW_TPH


class TripRecord(_Record):
    """One trip of a skip, mine car, tyred vehicle or truck, with its net weight (t)."""

    type: Literal["trip"]
    point: Code
    net_t: Tonnes
    #: trips the counter advanced by that could not be read one by one
    missed: Annotated[int, Field(ge=0, le=MAX_SEQ)] = 0


class ConveyorRecord(_Record):
    type: Literal["conveyor"]
    point: Code
    running: StrictBool


class EventRecord(_Record):
    type: Literal["event"]
    point: Code | None = None
    event: EventName
    detail: Annotated[str, Field(max_length=2000)] | None = None


#: the SHA-256 fingerprint of a station configuration, as 64 lower-case hex digits
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class HeartbeatRecord(_Record):
    type: Literal["heartbeat"]
    #: the fingerprint of the configuration the station runs (optional: older stations)
    config: Fingerprint | None = None


StationRecord = Annotated[
    TotalizerRecord | TripRecord | ConveyorRecord | EventRecord | HeartbeatRecord,
    Field(discriminator="type"),
]
_record_adapter: TypeAdapter[StationRecord] = TypeAdapter(StationRecord)
#: the adapter's validator, called directly: its wrapper costs a third of a record's
#: validation, for every record of every batch
_validate_record = _record_adapter.validator.validate_python


def _objects(records: list[Any]) -> list[Any]:
    """Records that are JSON objects, taken as they are (each is validated alone)."""
    for record in records:
        if type(record) is not dict:
            raise ValueError("every record must be a JSON object")
    return records


class Batch(BaseModel):
    """The envelope of an upload: station, when it was sent, and its records."""

    model_config = ConfigDict(extra="ignore")
    station: Code
    sent_at: Moment
    #: not copied record by record as ``list[dict[str, Any]]`` would be
    records: Annotated[list[Any], AfterValidator(_objects)]


class PointSignal(BaseModel):
    """Whether a point's warning output should sound, and the alarms that make it."""

    point: str
    on: bool
    #: ids of the unacknowledged alarms that sound it (empty when off)
    alarms: list[int] = []


class Signals(BaseModel):
    """The sound-and-light warning 声光预警 the center commands: the alarm types chosen by
    the supervising unit, and per point of the mine whether its output sounds."""

    types: list[str]
    points: list[PointSignal]


class ConfigNotice(BaseModel):
    """The station configuration the center issued last (fetch it when it differs from
    the one running); null when the center holds none for the station."""

    version: int
    fingerprint: str


class BatchAnswer(BaseModel):
    acked_seq: int
    duplicates: int
    rejected: list[dict[str, Any]]
    gaps: list[tuple[int, int]]
    commands: list[dict[str, Any]]
    #: optional additions (older centers send neither; stations ignore what they lack)
    signals: Signals | None = None
    config: ConfigNotice | None = None


class MalformedBody(ValueError):
    """The body is not JSON, or not a JSON object."""


def _no_constants(name: str) -> Any:
    raise MalformedBody(f"{name} is not a number JSON allows")


#: arrays and objects nest at most this deep in a body (a batch needs 4)
MAX_DEPTH = 32


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether an array or object lies deeper than ``limit`` (the body at 1): level by
    level, the containers only."""
    level = [data]
    depth = 1
    while level:
        if depth > limit:
            return True
        level = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) is dict or type(child) is list
        ]
        depth += 1
    return False


def parse_body(body: bytes) -> Any:
    """JSON with every non-integer number as an exact Decimal, nested at most MAX_DEPTH."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedBody(f"body nests deeper than {MAX_DEPTH} levels") from exc
    if isinstance(data, dict | list) and _depth_exceeds(data, MAX_DEPTH):
        raise MalformedBody(f"body nests deeper than {MAX_DEPTH} levels")
    return data


def parse_record(data: Any) -> StationRecord:
    """One record, or ValidationError saying what is wrong with it."""
    return _validate_record(data)  # type: ignore[no-any-return]


def record_seq(data: Any) -> int | None:
    """The seq of a record that may be invalid otherwise, if it has a usable one."""
    if isinstance(data, dict):
        seq = data.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= MAX_SEQ:
            return seq
    return None


def describe_error(error: ValidationError) -> str:
    """A one-line, human reason for a record's rejection."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(p) for p in item["loc"] if not isinstance(p, int))
        # the discriminator adds the record type as the first location part
        message = item["msg"]
        given = item.get("input")
        if isinstance(given, str | int | float | Decimal) and not isinstance(given, bool):
            message += f" (got {given!r})"
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def encode_batch(station: str, sent_at: datetime, records: list[dict[str, Any]]) -> bytes:
    """The body bytes a station signs and sends (Decimals as JSON numbers)."""
    return json.dumps(
        {"station": station, "sent_at": sent_at.isoformat(), "records": records},
        default=_encode_default,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _encode_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        # JSON numbers are written through float; a value with up to 15
        # significant digits (every tonne figure to 1 kg below 10^12 t) comes
        # back as the same shortest decimal text, so nothing is lost.
        number = float(value)
        if Decimal(repr(number)) != value:
            raise ValueError(f"{value} cannot be written exactly as a JSON number")
        return number
    raise TypeError(f"cannot encode {type(value).__name__}")
