"""Rule thresholds per mine or point: defaults of the rulebook, changed at run time by
an administrator, every change audited; the legal limits among them only by a supervising
unit, and only shorter (``limits.service``)."""

from __future__ import annotations

import functools
from dataclasses import fields, replace
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Threshold
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.alarms import LEGAL_LIMITS, THRESHOLD_LIMITS, THRESHOLD_NAMES, Thresholds
from coalwatch.errors import Invalid
from coalwatch.federation.queue import enqueue_config
from coalwatch.limits import service as legal
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.orgs.authority import require_decision
from coalwatch.storage import facts
from coalwatch.storage.models import Mine, Point


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: None: the whole mine
    point: str | None = None
    name: str
    #: minutes, days, seconds or kilograms as the name says; null returns to the default
    value: Annotated[int, Field(ge=0, le=max(THRESHOLD_LIMITS.values()))] | None


class ThresholdsOut(BaseModel):
    mine: str
    point: str | None
    values: dict[str, int | None]


def for_point(
    session: Session, mine_id: int, point: Point | None, defaults: Thresholds | None = None
) -> Thresholds:
    """Defaults ← the point's own settings ← the mine's overrides ← the point's overrides;
    a legal limit is then cut to the shortest its orgs allow (an override may only shorten
    it, ``limits.service``)."""
    rows, ceilings = _read(session, mine_id)
    own = (
        None
        if point is None
        else (point.id, point.min_trip_kg, point.window_min, point.window_min_kg)
    )
    return _combine(defaults or Thresholds(), own, tuple(rows), tuple(ceilings.items()))


@functools.lru_cache(maxsize=8192)
def _combine(
    base: Thresholds,
    point: tuple[int, int | None, int | None, int | None] | None,
    rows: tuple[tuple[int | None, str, int], ...],
    ceilings: tuple[tuple[str, int], ...],
) -> Thresholds:
    """``for_point``'s answer from what it read: the same for every batch of a point until
    a setting changes, so kept (every argument is a value, and the answer immutable)."""
    if point is not None:
        base = replace(base, min_trip_kg=point[1], window_min=point[2], window_min_kg=point[3])
    mine_level = {name: value for point_id, name, value in rows if point_id is None}
    point_level = {
        name: value for point_id, name, value in rows if point is not None and point_id == point[0]
    }
    found = replace(base, **{**mine_level, **point_level})
    return replace(found, **{name: min(getattr(found, name), most) for name, most in ceilings})


_CACHE = "coalwatch.thresholds"
Rows = list[tuple[int | None, str, int]]


def _read(session: Session, mine_id: int) -> tuple[Rows, dict[str, int]]:
    """A mine's overrides and legal limits, read once per transaction (ingest asks for
    every point)."""
    cache: dict[int, tuple[Rows, dict[str, int]]] = session.info.setdefault(_CACHE, {})
    if mine_id not in cache:
        # the same for every batch of the mine until one of these tables changes; read
        # for every mine at once
        nothing: tuple[Rows, dict[str, int]] = ([], {})
        cache[mine_id] = facts.cached_among(
            session, "thresholds", mine_id, _TABLES, lambda: _read_every(session), nothing
        )
    return cache[mine_id]


def _read_every(session: Session) -> dict[int, tuple[Rows, dict[str, int]]]:
    """Every mine's overrides and legal limits."""
    mine_ids = list(session.scalars(select(Mine.id)))
    found: dict[int, Rows] = {mine_id: [] for mine_id in mine_ids}
    for mine_id, point_id, name, value in session.execute(_EVERY):
        found.setdefault(mine_id, []).append((point_id, name, value))
    ceilings = legal.mine_ceilings(session, mine_ids)
    return {mine_id: (rows, ceilings.get(mine_id, {})) for mine_id, rows in found.items()}


_TABLES = frozenset({"thresholds", "legal_limits", "orgs", "mines"})


_EVERY = select(Threshold.mine_id, Threshold.point_id, Threshold.name, Threshold.value).order_by(
    Threshold.id
)


def set_threshold(
    session: Session, principal: Principal, mine_code: str, data: ThresholdIn, now: datetime
) -> ThresholdsOut:
    # a legal limit is the supervising unit's (``region:limits``), the rest the mine's
    principal.require(legal.PERMISSION if data.name in LEGAL_LIMITS else "system:write")
    if data.name not in THRESHOLD_NAMES:
        raise Invalid(f"unknown threshold {data.name!r}; known: {', '.join(THRESHOLD_NAMES)}")
    limit = THRESHOLD_LIMITS[data.name]
    if data.value is not None and data.value > limit:
        raise Invalid(f"{data.name} is at most {limit}, got {data.value}")
    mine, org = visible_mine(session, principal, mine_code)
    if data.name in LEGAL_LIMITS:  # the mine's judges shorten it, for this mine alone
        require_decision(session, principal, legal.PERMISSION, org)
        if data.value is not None:
            legal.check_value(
                data.name, data.value, legal.settings_above(session, [org.path])[org.path]
            )
    point = None
    if data.point is not None:
        point = mine_point(session, mine, data.point)
    point_id = point.id if point else None
    row = session.scalars(
        select(Threshold).where(
            Threshold.mine_id == mine.id,
            Threshold.point_id.is_(None) if point_id is None else Threshold.point_id == point_id,
            Threshold.name == data.name,
        )
    ).first()
    before = row.value if row else None
    if data.value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            Threshold(
                mine_id=mine.id,
                point_id=point_id,
                name=data.name,
                value=data.value,
                updated_by=principal.name,
                updated_at=now,
            )
        )
    else:
        row.value, row.updated_by, row.updated_at = data.value, principal.name, now
    session.flush()
    session.info.get(_CACHE, {}).pop(mine.id, None)
    audit.record(
        session,
        actor=principal.name,
        action="threshold.set",
        entity="threshold",
        key=f"{mine.code}/{data.point or '*'}/{data.name}",
        detail={"before": before, "after": data.value},
        at=now,
    )
    enqueue_config(session, "threshold.set", mine.code, data.model_dump(mode="json"), now)
    current = for_point(session, mine.id, point)
    return ThresholdsOut(
        mine=mine.code,
        point=data.point,
        values={f.name: getattr(current, f.name) for f in fields(current)},
    )


def show(
    session: Session, principal: Principal, mine_code: str, point_code: str | None
) -> ThresholdsOut:
    mine, _ = visible_mine(session, principal, mine_code)
    point = None
    if point_code is not None:
        point = mine_point(session, mine, point_code)
    current = for_point(session, mine.id, point)
    return ThresholdsOut(
        mine=mine.code,
        point=point_code,
        values={f.name: getattr(current, f.name) for f in fields(current)},
    )
