"""Federation use cases: register a downstream center, receive what it forwards, and
forward what this center holds to its own upstream (store-and-forward).

A downstream center's items are applied in order through the same use cases
as local changes (a station batch through ingest, with the station's own
signature checked here; configuration through the mines and orgs services,
as a principal scoped to the center's org), so the upstream computes the same
figures from the same records. Each item is applied in a savepoint: one that
cannot be applied is kept with its reason and does not stop the rest. What is
applied here is queued for this center's own upstream in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any, NamedTuple, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.alarms import service as alarms
from coalwatch.alarms import thresholds
from coalwatch.alarms.models import Alarm
from coalwatch.alarms.service import raise_alarm
from coalwatch.audit import service as audit
from coalwatch.audit.checkpoints import Checkpoint
from coalwatch.auth.permissions import ALL
from coalwatch.auth.principal import Principal
from coalwatch.domain.alarms import AlarmType, detail_params
from coalwatch.domain.reports import SIGNING_ORDER
from coalwatch.domain.sequences import advance, is_held
from coalwatch.errors import (
    N_,
    BadRequest,
    CoalwatchError,
    Conflict,
    Invalid,
    NotFound,
    Unauthorized,
)
from coalwatch.events.broker import emit
from coalwatch.faults.models import Fault
from coalwatch.federation import outbound, repository, upward
from coalwatch.federation.decisions import DecisionPoller, post_signed, upstream_problem
from coalwatch.federation.downward import FROM_DOWNSTREAM
from coalwatch.federation.models import DownstreamCenter, FaultMirror, ReceivedReport
from coalwatch.federation.queue import (
    ALARM,
    AUDIT_CHECKPOINT,
    CONFIG,
    FAULT,
    REPORT,
    STATION_BATCH,
)
from coalwatch.federation.schemas import (
    CenterIn,
    CenterOut,
    ForwardAnswer,
    ForwardBatch,
    Rejected,
    RejectOut,
)
from coalwatch.federation.upward import Refused
from coalwatch.ingest import service as ingest
from coalwatch.mines import repository as mines_repository
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import (
    CapacityIn,
    CoefficientIn,
    ManualProductionIn,
    MineIn,
    PlanIn,
    PointIn,
    StationIn,
)
from coalwatch.notices import service as notices
from coalwatch.orgs import repository as orgs_repository
from coalwatch.orgs import service as orgs
from coalwatch.orgs.schemas import OrgIn
from coalwatch.permits import service as permits
from coalwatch.permits.schemas import CalibrationIn, PermitIn, ShutdownIn
from coalwatch.storage.models import CapacityReduction, Mine, Org
from coalwatch.storage.session import transaction
from coalwatch.summaries import service as summaries
from coalwatch.wire.batches import MalformedBody, describe_error, parse_body
from coalwatch.wire.signing import (
    SIGNATURE_HEADER,
    load_private_key_pem,
    parse_public_key,
    verify,
)

log = logging.getLogger("coalwatch.federation")
_M = TypeVar("_M", bound=BaseModel)

#: items per forwarded batch at most
MAX_ITEMS = 500
#: the detail of the invalid_data alarm of a relayed batch that fails its station's signature
TAMPERED = "relayed batch signature invalid"


# -- at the upstream --------------------------------------------------------------------------


def register_center(
    session: Session, principal: Principal, data: CenterIn, now: datetime
) -> CenterOut:
    """Allow a downstream center to send the data of the subtree of ``data.org``."""
    principal.require("system:write")
    org = orgs.visible_org(session, principal, data.org)
    try:
        parse_public_key(data.public_key)
    except ValueError as exc:
        raise Invalid(f"public_key: {exc}") from exc
    if repository.center_for_update(session, data.code) is not None:
        raise orgs.unavailable(N_("中心编码"), data.code)
    center = DownstreamCenter(
        code=data.code,
        public_key=data.public_key,
        org_id=org.id,
        max_seq=0,
        gaps="[]",
        created_at=now,
    )
    repository.add(session, center)
    audit.record_change(
        session, actor=principal.name, action="center.register", key=center.code, data=data, at=now
    )
    return _center_out(center, org)


def list_centers(session: Session, principal: Principal) -> list[CenterOut]:
    return [
        _center_out(center, org)
        for center, org in repository.centers_under(session, principal.scope_path)
    ]


def list_rejects(session: Session, principal: Principal, code: str, limit: int) -> list[RejectOut]:
    for center, _ in repository.centers_under(session, principal.scope_path):
        if center.code == code:
            return [
                RejectOut(seq=r.seq, kind=r.kind, reason=r.reason, received_at=r.received_at)
                for r in repository.rejects_of(session, center.id, limit)
            ]
    raise NotFound(f"center {code!r} not found")


def center_checkpoints(session: Session, principal: Principal, code: str) -> list[Checkpoint]:
    """A downstream center's audit checkpoints kept here."""
    for center, _ in repository.centers_under(session, principal.scope_path):
        if center.code == code:
            return upward.kept_checkpoints(session, center)
    raise NotFound(f"center {code!r} not found")


def _center_out(center: DownstreamCenter, org: Org) -> CenterOut:
    return CenterOut(
        code=center.code,
        public_key=center.public_key,
        org=org.code,
        acked_seq=center.max_seq,
        last_seen_at=center.last_seen_at,
    )


@dataclass(frozen=True, slots=True)
class ReceiveContext:
    limits: ingest.IngestLimits
    default_tz: str


def receive_batch(
    session: Session,
    center_code: str,
    body: bytes,
    signature: str | None,
    now: datetime,
    context: ReceiveContext,
) -> ForwardAnswer:
    """Apply a downstream center's batch: per-center seqs, duplicates ignored."""
    center = repository.center_for_update(session, center_code)
    if center is None:
        raise Unauthorized(f"unknown center {center_code!r}")
    if not signature:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header")
    if not verify(parse_public_key(center.public_key), body, signature):
        raise Unauthorized("the signature does not match the body and the center's key")
    try:
        batch = ForwardBatch.model_validate(parse_body(body))
    except MalformedBody as exc:
        raise BadRequest(str(exc), code="malformed_body") from exc
    except ValidationError as exc:
        raise Invalid(
            f"the batch envelope is invalid: {describe_error(exc)}", code="invalid_envelope"
        ) from exc
    if batch.center != center.code:
        raise Invalid(
            f"the body is for center {batch.center!r}, the URL for {center.code!r}",
            code="invalid_envelope",
        )
    org = session.get_one(Org, center.org_id)
    principal = Principal(
        name=f"center:{center.code}",
        scope_path=org.path,
        permissions=frozenset({ALL}),
        kind="token",
    )
    gaps = [(int(a), int(b)) for a, b in json.loads(center.gaps)]
    received: set[int] = set()
    duplicates = 0
    rejected: list[Rejected] = []
    for item in sorted(batch.items, key=lambda i: i.seq):
        if item.seq in received or is_held(item.seq, center.max_seq, gaps):
            duplicates += 1
            continue
        received.add(item.seq)
        try:
            with session.begin_nested():
                session.info[FROM_DOWNSTREAM] = center.code
                try:
                    _apply(session, principal, center, item.kind, item.payload, now, context)
                finally:
                    session.info.pop(FROM_DOWNSTREAM, None)
        except (CoalwatchError, IntegrityError) as exc:
            # kept with its reason: an item that cannot be applied must not block the rest
            reason = exc.message if isinstance(exc, CoalwatchError) else str(exc.orig)
            status = exc.status if isinstance(exc, CoalwatchError) else Conflict.status
            rejected.append(Rejected(seq=item.seq, reason=reason, status=status))
            repository.insert_rejects(
                session,
                [
                    {
                        "center_id": center.id,
                        "seq": item.seq,
                        "kind": item.kind,
                        "payload": json.dumps(item.payload, ensure_ascii=False),
                        "reason": reason,
                        "received_at": now,
                    }
                ],
            )
            if item.kind == STATION_BATCH and isinstance(exc, Unauthorized):
                _alarm_tampered(session, org, item.payload, now)
            if isinstance(exc, Refused):
                _alarm_refused(session, principal, center, exc, now)
    state = advance(center.max_seq, gaps, received)
    remaining = state.gaps
    if batch.written_off:
        remaining = write_off(state.gaps, batch.written_off)
        if remaining != state.gaps:
            audit.record(
                session,
                actor=principal.name,
                action="center.write_off",
                entity="center",
                key=center.code,
                detail={"ids": [list(r) for r in batch.written_off]},
                at=now,
            )
    center.max_seq = state.max_seq
    center.gaps = json.dumps([list(g) for g in remaining])
    center.last_seen_at = now
    return ForwardAnswer(
        acked_seq=state.max_seq,
        duplicates=duplicates,
        rejected=rejected,
        gaps=list(remaining),
    )


def write_off(
    gaps: tuple[tuple[int, int], ...], ranges: list[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """The gaps less the ids the downstream says will never come (a queue id taken by a
    transaction that rolled back)."""
    pieces = list(gaps)
    for low, high in ranges:
        cut: list[tuple[int, int]] = []
        for a, b in pieces:
            if high < a or low > b:
                cut.append((a, b))
                continue
            if a < low:
                cut.append((a, low - 1))
            if high < b:
                cut.append((high + 1, b))
        pieces = cut
    return tuple(sorted(pieces))


def _alarm_tampered(session: Session, org: Org, payload: dict[str, Any], now: datetime) -> None:
    station = mines_repository.station_by_code(session, str(payload.get("station", "")))
    if station is None:
        return
    mine = session.get_one(Mine, station.mine_id)
    if not session.get_one(Org, mine.org_id).path.startswith(org.path):
        return
    raise_alarm(
        session,
        mine_id=mine.id,
        type_=AlarmType.INVALID_DATA,
        at=now,
        station_id=station.id,
        detail=TAMPERED,
        params=detail_params("tampered"),
    )


def _alarm_refused(
    session: Session, principal: Principal, center: DownstreamCenter, exc: Refused, now: datetime
) -> None:
    """越权上报被拒: the upstream's own alarm, of the mine the change was about when known;
    it ends at once (the item is refused, nothing goes on) and waits to be handled."""
    mine = mines_repository.mine_by_code(session, exc.mine) if exc.mine else None
    visible = mine is not None and principal.sees(mine[1].path)
    alarm, _ = raise_alarm(
        session,
        mine_id=mine[0].id if mine is not None and visible else None,
        type_=AlarmType.FORWARDING_REFUSED,
        at=now,
        subject=f"{center.code}:{exc.op}",
        value=exc.op,
        detail=exc.message,
        params=detail_params("forwarding_refused", center=center.code, op=exc.op),
    )
    alarms.end_alarm(session, alarm, now)  # a one-off: each refused item is its own


def _apply(
    session: Session,
    principal: Principal,
    center: DownstreamCenter,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    context: ReceiveContext,
) -> None:
    if kind == STATION_BATCH:
        _apply_station_batch(session, principal, payload, context)
    elif kind == ALARM:
        _apply_alarm(session, principal, center, payload)
    elif kind == CONFIG:
        _apply_config(session, principal, center, payload, now, context)
    elif kind == FAULT:
        _apply_fault(session, principal, center, payload, now)
    elif kind == REPORT:
        _apply_report(session, principal, center, payload, now)
    elif kind == summaries.SUMMARY:
        mine, _ = _managed_mine(session, principal, center, str(payload.get("mine")))
        summaries.receive(session, principal.name, center.id, mine, payload, now)
    elif kind == AUDIT_CHECKPOINT:
        upward.receive_checkpoint(session, center, payload, now)
    else:
        raise Invalid(f"unknown item kind {kind!r}")


def _apply_station_batch(
    session: Session, principal: Principal, payload: dict[str, Any], context: ReceiveContext
) -> None:
    try:
        code = str(payload["station"])
        body = base64.b64decode(str(payload["body_b64"]), validate=True)
        signature = str(payload["signature"])
        received_at = datetime.fromisoformat(str(payload["received_at"]))
    except (KeyError, ValueError) as exc:
        raise Invalid(f"malformed station_batch item: {exc}") from exc
    station = mines_repository.station_by_code(session, code)
    if station is None:
        raise NotFound(f"station {code!r} not found")
    mine = session.get_one(Mine, station.mine_id)
    principal.require_visible(session.get_one(Org, mine.org_id).path, f"station {code!r}")
    # the downstream's time of receipt: validation and alarms as they were there
    ingest.ingest_batch(session, code, body, signature, received_at, context.limits)


def _apply_alarm(
    session: Session, principal: Principal, center: DownstreamCenter, payload: dict[str, Any]
) -> None:
    """Mirror an alarm of a mine the center manages, as it is at the center now."""
    try:
        origin = str(payload["origin"])
        fields = {name: payload[name] for name in alarms.MIRRORED}
        # the structured detail: optional, as a downstream of an older version sends none
        params = payload.get("params")
        fields["params"] = params if isinstance(params, str) else None
        for name in ("start", "end", "expires_at", "acknowledged_at", "handled_at"):
            if fields[name] is not None:
                fields[name] = datetime.fromisoformat(str(fields[name]))
        mine_code, transition = str(payload["mine"]), str(payload["transition"])
        AlarmType(str(fields["type"]))
    except (KeyError, ValueError) as exc:
        raise Invalid(f"malformed alarm item: {exc}") from exc
    mine, _ = mines.visible_mine(session, principal, mine_code)
    if mine.managed_by_center_id != center.id:
        raise Conflict(f"mine {mine_code!r} is not managed by center {center.code!r}")
    point_id = station_id = None
    if payload.get("point") is not None:
        point = mines_repository.point_by_code(session, mine.id, str(payload["point"]))
        if point is None:
            raise NotFound(f"point {payload['point']!r} not found")
        point_id = point.id
    if payload.get("station") is not None:
        station = mines_repository.station_by_code(session, str(payload["station"]))
        if station is None or station.mine_id != mine.id:
            raise NotFound(f"station {payload['station']!r} not found")
        station_id = station.id
    alarm = repository.mirrored_alarm(session, origin)
    if alarm is None:
        alarm = Alarm(mine_id=mine.id, origin=origin, **fields)
    elif alarm.mine_id != mine.id:
        raise Conflict(f"alarm {origin!r} belongs to another mine")
    else:
        for name, value in fields.items():
            setattr(alarm, name, value)
    alarm.point_id, alarm.station_id = point_id, station_id
    repository.add(session, alarm)
    alarms.announce(session, alarm, transition)


def _managed_mine(
    session: Session, principal: Principal, center: DownstreamCenter, code: str
) -> tuple[Mine, Org]:
    mine, org = mines.visible_mine(session, principal, code)
    if mine.managed_by_center_id != center.id:
        raise Conflict(f"mine {code!r} is not managed by center {center.code!r}")
    return mine, org


def _moment(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _apply_fault(
    session: Session,
    principal: Principal,
    center: DownstreamCenter,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Mirror a fault of a mine the center manages; its report arrives now (上报到达)."""
    try:
        origin, transition = str(payload["origin"]), str(payload["transition"])
        mine_code = str(payload["mine"])
        times = {
            name: _moment(payload[name])
            for name in ("occurred_at", "reported_at", "recovered_at", "escalated_at", "closed_at")
        }
        texts = {
            name: None if payload[name] is None else str(payload[name])
            for name in ("reported_by", "result", "closed_by")
        }
        kind, phenomenon = str(payload["kind"]), str(payload["phenomenon"])
        opened_by = str(payload["opened_by"])
        reduction = payload.get("reduction")
    except (KeyError, ValueError, TypeError) as exc:
        raise Invalid(f"malformed fault item: {exc}") from exc
    occurred_at = times["occurred_at"]
    if occurred_at is None:
        raise Invalid("malformed fault item: occurred_at is missing")
    mine, org = _managed_mine(session, principal, center, mine_code)
    point_id = station_id = alarm_id = None
    if payload.get("point") is not None:
        point_id = mines.mine_point(session, mine, str(payload["point"])).id
    if payload.get("station") is not None:
        station = mines_repository.station_by_code(session, str(payload["station"]))
        if station is None or station.mine_id != mine.id:
            raise NotFound(f"station {payload['station']!r} not found")
        station_id = station.id
    if payload.get("alarm") is not None:
        alarm = repository.mirrored_alarm(session, str(payload["alarm"]))
        alarm_id = None if alarm is None or alarm.mine_id != mine.id else alarm.id
    mirror = repository.fault_mirror(session, origin)
    if mirror is None:
        fault = Fault(mine_id=mine.id, occurred_at=occurred_at, opened_by=opened_by)
        fault.kind, fault.phenomenon = kind, phenomenon
        repository.add(session, fault)
        mirror = FaultMirror(fault_id=fault.id, origin=origin, center_id=center.id)
        repository.add(session, mirror)
    else:
        fault = session.get_one(Fault, mirror.fault_id)
        if fault.mine_id != mine.id:
            raise Conflict(f"fault {origin!r} belongs to another mine")
    fault.kind, fault.phenomenon, fault.occurred_at = kind, phenomenon, occurred_at
    fault.point_id, fault.station_id, fault.alarm_id = point_id, station_id, alarm_id
    fault.result, fault.closed_by = texts["result"], texts["closed_by"]
    fault.recovered_at, fault.escalated_at = times["recovered_at"], times["escalated_at"]
    fault.closed_at = times["closed_at"]
    if times["reported_at"] is not None and mirror.received_at is None:
        # the report is a message: here it counts from when it arrived
        mirror.sent_at, mirror.received_at = times["reported_at"], now
        fault.reported_at, fault.reported_by = now, texts["reported_by"]
    if isinstance(reduction, dict):
        _mirror_reduction(session, fault, mine, reduction, now)
    session.flush()
    emit(session, "fault", org.path, {"id": fault.id, "mine": mine.code, "transition": transition})
    outbound.forward_fault(session, fault, transition, now)


def _mirror_reduction(
    session: Session, fault: Fault, mine: Mine, data: dict[str, Any], now: datetime
) -> None:
    """The reduction of a mirrored fault, as the center where it was opened computed it
    (it grows there with the fault; each message carries its amount so far)."""
    try:
        num, den = int(data["amount_kg_num"]), int(data["amount_kg_den"])
        effective_from = date.fromisoformat(str(data["effective_from"]))
        status = str(data.get("status", "confirmed"))
    except (KeyError, ValueError, TypeError) as exc:
        raise Invalid(f"malformed fault item: {exc}") from exc
    if num <= 0 or den <= 0 or status not in ("pending", "confirmed", "waived"):
        raise Invalid("malformed fault item: reduction")
    cut = (
        None
        if fault.reduction_id is None
        else session.get_one(CapacityReduction, fault.reduction_id)
    )
    if cut is None:
        cut = CapacityReduction(
            mine_id=mine.id,
            amount_kg_num=num,
            amount_kg_den=den,
            effective_from=effective_from,
            reason=f"故障 {fault.id} 未按时上报 (fault {fault.id} not reported in time)",
            created_at=now,
            status=status,
        )
        repository.add(session, cut)
        fault.reduction_id = cut.id
    cut.amount_kg_num, cut.amount_kg_den = num, den
    cut.effective_from, cut.status = effective_from, status


def _apply_report(
    session: Session,
    principal: Principal,
    center: DownstreamCenter,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Keep a signed daily report as received 已上报, once its SHA-256 and its three
    signatures are checked against its content."""
    try:
        mine_code, day = str(payload["mine"]), date.fromisoformat(str(payload["day"]))
        number, content = int(payload["revision"]), str(payload["content"])
        digest, submitted_at = str(payload["sha256"]), _moment(payload["submitted_at"])
        signatures = [
            {
                "role": str(s["role"]),
                "signer": str(s["signer"]),
                "sha256": str(s["sha256"]),
                "signed_at": datetime.fromisoformat(str(s["signed_at"])).isoformat(),
            }
            for s in payload["signatures"]
        ]
    except (KeyError, ValueError, TypeError) as exc:
        raise Invalid(f"malformed report item: {exc}") from exc
    if submitted_at is None:
        raise Invalid("malformed report item: submitted_at is missing")
    if hashlib.sha256(content.encode("utf-8")).hexdigest() != digest:
        raise Invalid("the report's content does not match its SHA-256")
    if [s["role"] for s in signatures] != [r.value for r in SIGNING_ORDER] or any(
        s["sha256"] != digest for s in signatures
    ):
        raise Invalid("the report is not signed in full over its SHA-256")
    mine, _ = _managed_mine(session, principal, center, mine_code)
    existing = repository.received_report(session, mine.id, day, number)
    if existing is not None:
        if existing.sha256 == digest:
            return
        raise Conflict(f"report {mine_code}/{day} revision {number} was received with another hash")
    report = ReceivedReport(
        center_id=center.id,
        mine_id=mine.id,
        day=day,
        revision=number,
        content=content,
        sha256=digest,
        signatures=json.dumps(signatures, ensure_ascii=False),
        submitted_at=submitted_at,
        received_at=now,
    )
    repository.add(session, report)
    audit.record(
        session,
        actor=principal.name,
        action="report.receive",
        entity="daily_report",
        key=f"{mine.code}/{day.isoformat()}",
        detail={"revision": number, "sha256": digest},
        at=now,
    )
    outbound.forward_received_report(session, mine, report)


def _model(model: type[_M], data: Any) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(f"{model.__name__}: {describe_error(exc)}") from exc


class _Target(NamedTuple):
    """What every configuration operation is applied with, at the upstream."""

    session: Session
    principal: Principal
    center: DownstreamCenter
    now: datetime
    context: ReceiveContext


def _apply_config(
    session: Session,
    principal: Principal,
    center: DownstreamCenter,
    payload: dict[str, Any],
    now: datetime,
    context: ReceiveContext,
) -> None:
    op, key, data = str(payload.get("op")), str(payload.get("key")), payload.get("data")
    upward.require_accepted(session, center, op, key)
    handler = _CONFIG.get(op)
    if handler is None:
        raise Invalid(f"unknown configuration operation {op!r}")
    handler(_Target(session, principal, center, now, context), key, data)


def _org_create(target: _Target, key: str, data: Any) -> None:
    org_in = _model(OrgIn, data)
    existing = orgs_repository.org_by_code(target.session, org_in.code)
    if existing is not None:
        if target.principal.sees(existing.path) and existing.kind == org_in.kind:
            return  # the same org: created here already (and forwarded then)
        raise Conflict(f"org {org_in.code!r} exists already and differs")
    if org_in.parent is None:
        # a root downstream sits below the org the center is registered for
        org_in = org_in.model_copy(
            update={"parent": target.session.get_one(Org, target.center.org_id).code}
        )
    orgs.create_org(target.session, target.principal, org_in, target.now)


def _mine_create(target: _Target, key: str, data: Any) -> None:
    mine_in = _model(MineIn, data)
    existing = mines_repository.mine_by_code(target.session, mine_in.code)
    if existing is not None:
        if existing[1].code == mine_in.org and target.principal.sees(existing[1].path):
            # registered here first (by the supervising unit): the center holds it now,
            # and the capacity decided here stands
            if existing[0].managed_by_center_id is None:
                existing[0].managed_by_center_id = target.center.id
            return
        raise Conflict(f"mine {mine_in.code!r} exists already and differs")
    mines.create_mine(
        target.session, target.principal, mine_in, target.context.default_tz, target.now
    )
    created = mines_repository.mine_by_code(target.session, mine_in.code)
    assert created is not None
    created[0].managed_by_center_id = target.center.id


def _point_create(target: _Target, key: str, data: Any) -> None:
    point_in = _model(PointIn, data)
    mine, _ = mines.visible_mine(target.session, target.principal, key)
    existing = mines_repository.point_by_code(target.session, mine.id, point_in.code)
    if existing is not None:
        if existing.kind == point_in.kind:
            return
        raise Conflict(f"point {point_in.code!r} exists already and differs")
    mines.create_point(target.session, target.principal, key, point_in, target.now)


def _station_register(target: _Target, key: str, data: Any) -> None:
    station_in = _model(StationIn, data)
    mine, _ = mines.visible_mine(target.session, target.principal, key)
    existing = mines_repository.station_by_code(target.session, station_in.code)
    if existing is not None:
        if existing.mine_id == mine.id and existing.public_key == station_in.public_key:
            return
        raise Conflict(f"station {station_in.code!r} exists already and differs")
    mines.register_station(target.session, target.principal, key, station_in, target.now)


def _capacity(target: _Target, key: str, data: Any) -> None:
    mines.set_capacity(target.session, target.principal, key, _model(CapacityIn, data), target.now)


def _plan(target: _Target, key: str, data: Any) -> None:
    mine, _, month = key.rpartition("/")
    mines.set_plan(target.session, target.principal, mine, month, _model(PlanIn, data), target.now)


def _coefficient(target: _Target, key: str, data: Any) -> None:
    mines.approve_coefficient(
        target.session, target.principal, key, _model(CoefficientIn, data), target.now
    )


def _manual(target: _Target, key: str, data: Any) -> None:
    mines.record_manual_production(
        target.session, target.principal, key, _model(ManualProductionIn, data), target.now
    )


def _reduction(target: _Target, key: str, data: Any) -> None:
    mine, _ = mines.visible_mine(target.session, target.principal, key)
    try:
        amount_kg = Fraction(int(data["amount_kg_num"]), int(data["amount_kg_den"]))
        effective_from = date.fromisoformat(str(data["effective_from"]))
        reason = str(data["reason"])
    except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise Invalid(f"malformed mine.reduction: {exc}") from exc
    mines.apply_reduction(
        target.session, mine, amount_kg / 1000, effective_from, reason, target.now
    )


def _permit(target: _Target, key: str, data: Any) -> None:
    permits.approve_permit(
        target.session, target.principal, key, _model(PermitIn, data), target.now
    )


def _shutdown(target: _Target, key: str, data: Any) -> None:
    permits.declare_shutdown(
        target.session, target.principal, key, _model(ShutdownIn, data), target.now
    )


def _calibration(target: _Target, key: str, data: Any) -> None:
    permits.record_calibration(
        target.session, target.principal, key, _model(CalibrationIn, data), target.now
    )


def _threshold(target: _Target, key: str, data: Any) -> None:
    thresholds.set_threshold(
        target.session, target.principal, key, _model(thresholds.ThresholdIn, data), target.now
    )


def _notice_ack(target: _Target, key: str, data: Any) -> None:
    notices.receive_reply(target.session, target.principal, notices.ACK_UP, key, data, target.now)


def _notice_answer(target: _Target, key: str, data: Any) -> None:
    notices.receive_reply(
        target.session, target.principal, notices.ANSWER_UP, key, data, target.now
    )


_Handler = Callable[[_Target, str, Any], None]
_CONFIG: dict[str, _Handler] = {
    "org.create": _org_create,
    "mine.create": _mine_create,
    "point.create": _point_create,
    "station.register": _station_register,
    "mine.capacity": _capacity,
    "mine.plan": _plan,
    "mine.coefficient": _coefficient,
    "production.manual": _manual,
    "mine.reduction": _reduction,
    "permit.approve": _permit,
    "shutdown.declare": _shutdown,
    "calibration.record": _calibration,
    "threshold.set": _threshold,
    notices.ACK_UP: _notice_ack,
    notices.ANSWER_UP: _notice_answer,
}


# -- toward the upstream ----------------------------------------------------------------------


class Forwarder:
    """Sends the forward queue to the upstream in order, ≤ MAX_ITEMS a batch, and deletes
    what it holds; on failure waits 1, 2, 4 ... up to ``max_backoff_s`` seconds before
    trying again. Nothing leaves the queue before the upstream answered for it.

    Write-off: on PostgreSQL a queue id taken by a transaction that rolled back never
    comes, and the upstream lists it as a gap. A gap the upstream reports is written off
    (sent as ``written_off``) once it has been seen for ``write_off_after_s`` seconds, no
    transaction that began before it was first seen is still open (so none can still
    commit an id in it), and the queue holds none of its ids."""

    def __init__(
        self,
        url: str,
        center_code: str,
        key: Ed25519PrivateKey,
        *,
        timeout_s: float = 30.0,
        max_backoff_s: float = 60.0,
        max_items: int = MAX_ITEMS,
        write_off_after_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        upstream_public_key: str = "",
    ) -> None:
        self.url = url.rstrip("/")
        self.center_code = center_code
        self._key = key
        self._timeout = timeout_s
        self._max_backoff = max_backoff_s
        self._max_items = max_items
        self._monotonic = monotonic
        self._delay = 0.0
        self._next_try = 0.0
        self._write_off_after = write_off_after_s
        #: the upstream's gaps: when first seen (monotonic, and the database's clock)
        self._gaps: dict[tuple[int, int], tuple[float, datetime | None]] = {}
        self.decisions = DecisionPoller(
            self.url,
            center_code,
            key,
            upstream_public_key=upstream_public_key,
            timeout_s=timeout_s,
        )

    def forward_due(self, sessions: sessionmaker[Session], now: datetime) -> int:
        """Items the upstream now holds (0 while backing off or with nothing queued);
        then the upstream's decisions are fetched and applied (``federation.decisions``)."""
        if self._monotonic() < self._next_try:
            return 0
        sent = self._send_due(sessions, now)
        if self._monotonic() >= self._next_try:
            try:
                self.decisions.poll(sessions, now)
            except (OSError, ValueError) as exc:
                self._fail(exc)
        return sent

    def _send_due(self, sessions: sessionmaker[Session], now: datetime) -> int:
        sent = 0
        while True:
            with transaction(sessions) as session:
                items = [
                    (item.id, item.kind, json.loads(item.payload))
                    for item in repository.queued(session, self._max_items)
                ]
                written_off = self._written_off(session)
            if not items and not written_off:
                return sent
            try:
                answer = self._send(items, now, written_off)
            except (OSError, ValueError) as exc:
                self._fail(exc)
                return sent
            if answer.gaps or self._gaps:
                with transaction(sessions) as session:
                    self._see_gaps(session, answer.gaps)
            with transaction(sessions) as session:
                repository.remove_queued(session, [seq for seq, _, _ in items])
            sent += len(items)
            if self._delay:
                log.info("forwarding to %s recovered", self.url)
                self._delay = 0.0
            if len(items) < self._max_items:
                return sent

    def _see_gaps(self, session: Session, gaps: list[tuple[int, int]]) -> None:
        current = {(int(a), int(b)) for a, b in gaps}
        self._gaps = {g: seen for g, seen in self._gaps.items() if g in current}
        for gap in current - self._gaps.keys():
            self._gaps[gap] = (self._monotonic(), repository.database_time(session))

    def _written_off(self, session: Session) -> list[tuple[int, int]]:
        """The upstream's gaps that no transaction can fill any more."""
        out: list[tuple[int, int]] = []
        for (low, high), (seen, db_seen) in sorted(self._gaps.items()):
            if self._monotonic() - seen < self._write_off_after:
                continue
            if db_seen is not None and repository.transactions_open_since(session, db_seen):
                continue
            present = repository.queued_ids_between(session, low, high)
            out.extend(write_off(((low, high),), [(i, i) for i in present]))
        return out

    def _send(
        self,
        items: list[tuple[int, str, Any]],
        now: datetime,
        written_off: list[tuple[int, int]] | None = None,
    ) -> ForwardAnswer:
        body = {
            "center": self.center_code,
            "sent_at": now.isoformat(),
            "items": [
                {"seq": seq, "kind": kind, "payload": payload} for seq, kind, payload in items
            ],
            "written_off": [list(r) for r in written_off or []],
        }
        try:
            raw, _ = post_signed(
                f"{self.url}/api/v1/centers/{self.center_code}/batches",
                self._key,
                body,
                self._timeout,
            )
            answer = ForwardAnswer.model_validate_json(raw)
        except urllib.error.HTTPError as exc:
            raise upstream_problem(exc) from exc
        except ValidationError as exc:
            raise ValueError(f"the upstream's answer is not understood: {exc}") from exc
        for item in answer.rejected:
            if item.status == Refused.status:
                log.warning("the upstream refused item %s: %s", item.seq, item.reason)
        return answer

    def _fail(self, exc: Exception) -> None:
        if not self._delay:  # once on failure, once on recovery
            log.warning("forwarding to %s failed (%s); retrying with backoff", self.url, exc)
        self._delay = min(max(self._delay * 2, 1.0), self._max_backoff)
        self._next_try = self._monotonic() + self._delay


def forwarder_from_settings(
    url: str,
    center_code: str,
    key_file: str | None,
    *,
    write_off_after_s: float = 300.0,
    upstream_public_key: str = "",
) -> Forwarder:
    """The forwarder of a center configured with an upstream; ValueError when incomplete."""
    if not center_code or not key_file:
        raise ValueError("an upstream_url needs center_code and center_key_file")
    with open(key_file, "rb") as handle:
        key = load_private_key_pem(handle.read())
    return Forwarder(
        url,
        center_code,
        key,
        write_off_after_s=write_off_after_s,
        upstream_public_key=upstream_public_key,
    )
