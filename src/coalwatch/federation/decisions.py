"""The decisions of an upstream center, delivered to its downstream centers.

The downstream polls: it posts ``{center, sent_at, applied: [ids]}`` signed with its
center key (as its batches) to ``/api/v1/centers/{center}/decisions``; the upstream
marks the listed ids delivered and answers the ones still waiting, oldest first,
signed with its own center key (``X-Signature``). The downstream applies each through
the same use case as a local change, as the upstream's unit, records it (from then on
that yardstick of the mine is read-only here) and relays it to its own downstream
centers holding the mine. A decision already applied is acknowledged again, not
applied twice.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.acceptance import service as acceptance
from coalwatch.acceptance.schemas import DecisionIn
from coalwatch.alarms import thresholds
from coalwatch.auth.permissions import ALL
from coalwatch.auth.principal import Principal
from coalwatch.domain.authority import FROM_UPSTREAM
from coalwatch.errors import BadRequest, CoalwatchError, Invalid, Unauthorized
from coalwatch.federation import downward, repository
from coalwatch.federation.models import CenterDecision, UpstreamDecision
from coalwatch.mines import repository as mines_repository
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import CapacityIn, CoefficientIn, PlanIn
from coalwatch.notices import service as notices
from coalwatch.permits import service as permits
from coalwatch.permits.schemas import PermitIn
from coalwatch.storage.session import transaction
from coalwatch.wire.batches import MalformedBody, describe_error, parse_body
from coalwatch.wire.signing import SIGNATURE_HEADER, parse_public_key, sign, verify
from coalwatch.wire.types import Moment

log = logging.getLogger("coalwatch.federation")
_M = TypeVar("_M", bound=BaseModel)

#: decisions in one answer at most
MAX_DECISIONS = 200


class DecisionPoll(BaseModel):
    center: str = Field(max_length=64)
    sent_at: Moment
    #: the ids of the previous answer that the downstream has applied (or held already)
    applied: list[int] = Field(default_factory=list, max_length=MAX_DECISIONS * 2)


class DecisionOut(BaseModel):
    seq: int
    mine: str
    kind: str
    key: str
    data: Any
    unit: str
    decided_by: str
    decided_at: datetime


class DecisionList(BaseModel):
    items: list[DecisionOut]


# -- at the upstream --------------------------------------------------------------------------


def serve(
    session: Session, center_code: str, body: bytes, signature: str | None, now: datetime
) -> DecisionList:
    """The decisions waiting for a downstream center, once its signed poll is checked."""
    center = repository.center_for_update(session, center_code)
    if center is None:
        raise Unauthorized(f"unknown center {center_code!r}")
    if not signature or not verify(parse_public_key(center.public_key), body, signature):
        raise Unauthorized("the signature does not match the body and the center's key")
    try:
        poll = DecisionPoll.model_validate(parse_body(body))
    except MalformedBody as exc:
        raise BadRequest(str(exc), code="malformed_body") from exc
    except ValidationError as exc:
        raise Invalid(f"the poll is invalid: {describe_error(exc)}") from exc
    if poll.center != center.code:
        raise Invalid(f"the body is for center {poll.center!r}, the URL for {center.code!r}")
    if poll.applied:
        session.execute(
            update(CenterDecision)
            .where(CenterDecision.center_id == center.id, CenterDecision.id.in_(poll.applied))
            .values(delivered_at=now)
        )
    center.last_seen_at = now
    waiting = session.scalars(
        select(CenterDecision)
        .where(CenterDecision.center_id == center.id, CenterDecision.delivered_at.is_(None))
        .order_by(CenterDecision.id)
        .limit(MAX_DECISIONS)
    )
    items = []
    for row in waiting:
        payload = json.loads(row.payload)
        items.append(
            DecisionOut(
                seq=row.id,
                mine=row.mine,
                kind=row.kind,
                key=str(payload.get("key", row.mine)),
                data=payload.get("data"),
                unit=row.unit,
                decided_by=row.decided_by,
                decided_at=row.decided_at,
            )
        )
    return DecisionList(items=items)


# -- at the downstream ------------------------------------------------------------------------

Applier = Callable[[Session, Principal, str, Any, datetime], None]


def _model(model: type[_M], data: Any) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(f"{model.__name__}: {describe_error(exc)}") from exc


def _capacity(session: Session, principal: Principal, key: str, data: Any, now: datetime) -> None:
    mines.set_capacity(session, principal, key, _model(CapacityIn, data), now)


def _plan(session: Session, principal: Principal, key: str, data: Any, now: datetime) -> None:
    mine, _, month = key.rpartition("/")
    mines.set_plan(session, principal, mine, month, _model(PlanIn, data), now)


def _coefficient(
    session: Session, principal: Principal, key: str, data: Any, now: datetime
) -> None:
    mines.approve_coefficient(session, principal, key, _model(CoefficientIn, data), now)


def _permit(session: Session, principal: Principal, key: str, data: Any, now: datetime) -> None:
    permits.approve_permit(session, principal, key, _model(PermitIn, data), now)


def _acceptance(session: Session, principal: Principal, key: str, data: Any, now: datetime) -> None:
    acceptance.decide(session, principal, key, _model(DecisionIn, data), now)


def _threshold(session: Session, principal: Principal, key: str, data: Any, now: datetime) -> None:
    thresholds.set_threshold(session, principal, key, _model(thresholds.ThresholdIn, data), now)


def _notice_issued(
    session: Session, principal: Principal, key: str, data: Any, now: datetime
) -> None:
    notices.receive_issued(session, key, data, downward.from_upstream(session) or "", now)


def _notice_verdict(
    session: Session, principal: Principal, key: str, data: Any, now: datetime
) -> None:
    notices.receive_verdict(session, key, data, downward.from_upstream(session) or "", now)


#: how each kind of decision is applied here; a kind without one is recorded (and so
#: read-only here) and relayed, not applied: ``register_applier`` adds one
APPLIERS: dict[str, Applier] = {
    "mine.capacity": _capacity,
    "mine.plan": _plan,
    "mine.coefficient": _coefficient,
    "permit.approve": _permit,
    "threshold.set": _threshold,
    acceptance.DECISION_KIND: _acceptance,
    notices.ISSUED_DOWN: _notice_issued,
    notices.VERDICT_DOWN: _notice_verdict,
}


def register_applier(kind: str, applier: Applier) -> None:
    APPLIERS[kind] = applier


def apply_decision(session: Session, item: DecisionOut, now: datetime) -> bool:
    """Apply one decision of the upstream (False: it was applied before)."""
    if session.scalars(select(UpstreamDecision.id).where(UpstreamDecision.seq == item.seq)).first():
        return False
    found = mines_repository.mine_by_code(session, item.mine)
    if found is None:
        raise Invalid(f"mine {item.mine!r} is not known here")
    mine = found[0]
    principal = Principal(
        name=f"upstream:{item.unit}", scope_path=None, permissions=frozenset({ALL}), kind="token"
    )
    applier = APPLIERS.get(item.kind)
    session.info[FROM_UPSTREAM] = item.unit
    try:
        if applier is not None:
            applier(session, principal, item.key, item.data, now)
        session.add(
            UpstreamDecision(
                seq=item.seq,
                mine_id=mine.id,
                kind=item.kind,
                payload=json.dumps({"key": item.key, "data": item.data}, ensure_ascii=False),
                unit=item.unit,
                decided_by=item.decided_by,
                decided_at=item.decided_at,
                applied_at=now,
            )
        )
        # a county relays what its province decided to the mine centers below it
        downward.publish_decision(
            session,
            mine,
            item.kind,
            {"key": item.key, "data": item.data},
            now=item.decided_at,
            decided_by=item.decided_by,
            unit=item.unit,
        )
    finally:
        session.info.pop(FROM_UPSTREAM, None)
    session.flush()
    return True


class DecisionPoller:
    """The downstream's side: fetch the upstream's decisions, apply them in order."""

    def __init__(
        self,
        url: str,
        center_code: str,
        key: Ed25519PrivateKey,
        *,
        upstream_public_key: str = "",
        timeout_s: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.center_code = center_code
        self._key = key
        self._upstream_key = parse_public_key(upstream_public_key) if upstream_public_key else None
        self._timeout = timeout_s
        self._applied: list[int] = []
        self._no_decisions = False

    def poll(self, sessions: sessionmaker[Session], now: datetime) -> int:
        """Decisions applied now (raises OSError / ValueError when the upstream fails)."""
        done = 0
        while True:
            answer = self._fetch(now)
            self._applied = []
            for item in answer.items:
                try:
                    with transaction(sessions) as session:
                        done += apply_decision(session, item, now)
                except CoalwatchError as exc:
                    # kept waiting upstream: applied once the mine or its input is here
                    log.warning("decision %s of the upstream not applied: %s", item.seq, exc)
                    continue
                self._applied.append(item.seq)
            if len(answer.items) < MAX_DECISIONS or not self._applied:
                if self._applied:
                    self._fetch(now)  # acknowledge the last ones
                    self._applied = []
                return done

    def _fetch(self, now: datetime) -> DecisionList:
        body = {"center": self.center_code, "sent_at": now.isoformat(), "applied": self._applied}
        try:
            raw, signature = post_signed(
                f"{self.url}/api/v1/centers/{self.center_code}/decisions",
                self._key,
                body,
                self._timeout,
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # an upstream of an older version: it sends nothing down
                if not self._no_decisions:
                    log.info("the upstream %s does not send decisions down", self.url)
                self._no_decisions = True
                return DecisionList(items=[])
            raise upstream_problem(exc) from exc
        self._no_decisions = False
        if self._upstream_key is not None and (
            not signature or not verify(self._upstream_key, raw, signature)
        ):
            raise ValueError("the upstream's decisions are not signed by its configured key")
        try:
            return DecisionList.model_validate_json(raw)
        except ValidationError as exc:
            raise ValueError(f"the upstream's answer is not understood: {exc}") from exc


def post_signed(
    url: str, key: Ed25519PrivateKey, payload: dict[str, Any], timeout: float
) -> tuple[bytes, str | None]:
    """POST ``payload`` as JSON signed with ``key``; the answer's body and signature."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(key, body)},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read()), response.headers.get(SIGNATURE_HEADER)


def upstream_problem(exc: urllib.error.HTTPError) -> ValueError:
    detail = exc.read()[:500].decode(errors="replace")
    return ValueError(f"the upstream answered {exc.code}: {detail}")
