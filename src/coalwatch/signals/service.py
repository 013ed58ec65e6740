"""The sound-and-light warning at the outlet 声光预警: which alarms sound, and the
command a station receives with every upload answer.

A supervising unit 监管单位 (a user of a county, city or province, or one who sees the
whole tree) holding ``region:limits`` chooses the alarm types that sound, for an org's
subtree or for one mine; a mine's own choice wins over its orgs', a nearer org's over a
farther one's; without a choice the cheating kinds sound (``domain.signals``). A mine's
staff never choose what warns about them. Every choice is in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import signals as rules
from coalwatch.domain.authority import SUPERVISING_KINDS
from coalwatch.errors import Forbidden, NotFound
from coalwatch.mines.service import visible_mine
from coalwatch.signals import repository
from coalwatch.signals.models import SignalChoice
from coalwatch.signals.schemas import SignalTypesIn, SignalTypesOut
from coalwatch.storage import facts
from coalwatch.storage.models import Mine, Org, Point, Station
from coalwatch.wire.batches import PointSignal, Signals

PERMISSION = "region:limits"


def _org_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def in_force(session: Session, mine: Mine, org_path: str) -> tuple[list[str], SignalChoice | None]:
    """The types that sound at a mine and the choice that says so (None: the default)."""
    ids = _org_ids(org_path)
    own, by_org = _by_owner(repository.choices_for(session, mine.id, ids))
    return _nearest(ids, own.get(mine.id), by_org)


def _by_owner(
    choices: Sequence[SignalChoice],
) -> tuple[dict[int, SignalChoice], dict[int, SignalChoice]]:
    """The choices of mines (by mine) and of orgs (by org)."""
    of_mines = {c.mine_id: c for c in choices if c.mine_id is not None}
    return of_mines, {c.org_id: c for c in choices if c.org_id is not None}


def _nearest(
    org_ids: list[int], own: SignalChoice | None, by_org: dict[int, SignalChoice]
) -> tuple[list[str], SignalChoice | None]:
    """The types that sound at a mine under the orgs ``org_ids`` (the root first), by its
    own choice or else the nearest org's, and that choice (None: the default)."""
    nearest = own or next((by_org[i] for i in reversed(org_ids) if i in by_org), None)
    if nearest is None:
        return [t.value for t in rules.DEFAULT_TYPES], None
    return list(json.loads(nearest.types)), nearest


def _types_of_every_mine(session: Session) -> dict[int, tuple[str, ...]]:
    of_mines, by_org = _by_owner(repository.every_choice(session))
    return {
        mine_id: tuple(_nearest(_org_ids(path), of_mines.get(mine_id), by_org)[0])
        for mine_id, path in repository.mine_org_paths(session)
    }


def for_answer(
    session: Session, mine: Mine, org_path: str, station: Station, points: dict[str, Point]
) -> Signals:
    """What the station's warning outputs should do now, for its upload answer."""
    # both kept per process until a choice or the mine's alarms change (every upload
    # asks), read for every mine at once
    nothing: tuple[str, ...] = ()
    types = facts.cached_among(
        session,
        "signal types",
        mine.id,
        _CHOICE_TABLES,
        lambda: _types_of_every_mine(session),
        nothing,
        load_one=lambda: tuple(in_force(session, mine, org_path)[0]),
    )
    none_waiting: tuple[repository.Unacknowledged, ...] = ()
    waiting = facts.cached_among(
        session,
        "unacknowledged",
        mine.id,
        _ALARM_TABLES,
        lambda: {m: tuple(a) for m, a in repository.unacknowledged(session).items()},
        none_waiting,
        load_one=lambda: tuple(repository.unacknowledged(session, mine.id)[mine.id]),
        scoped=True,
    )
    sounds = set(types)
    alarms = [
        (alarm_id, point_id)
        for alarm_id, point_id, type_, station_id in waiting
        if type_ in sounds and station_id in (None, station.id)
    ]
    code_of = {p.id: p.code for p in points.values()}
    sounding = rules.sounding(
        sorted(points), [(i, None if p is None else code_of.get(p, "")) for i, p in alarms]
    )
    return Signals(
        types=list(types),
        points=[PointSignal(point=c, on=bool(ids), alarms=ids) for c, ids in sounding.items()],
    )


_CHOICE_TABLES = frozenset({"signal_choices", "mines", "orgs"})
_ALARM_TABLES = frozenset({"alarms"})


def supervising(session: Session, principal: Principal) -> bool:
    """The principal acts for a supervising unit 监管单位: its unit is a county, city or
    province, or it sees the whole tree."""
    if principal.scope_path is None:
        return True
    return repository.org_kind(session, principal.scope_path) in SUPERVISING_KINDS


def _require_supervising(session: Session, principal: Principal) -> None:
    principal.require(PERMISSION)
    if not supervising(session, principal):
        raise Forbidden(
            "声光预警的报警类型由监管单位（县级及以上）选定 (the alarm types that sound are "
            "chosen by a supervising unit: county and up)",
            {"permission": PERMISSION, "decided_by": "supervising unit"},
        )


def _out(target: str, types: list[str], choice: SignalChoice | None, where: str) -> SignalTypesOut:
    return SignalTypesOut(
        target=target,
        types=types,
        decided_for=where if choice is not None else "default",
        decided_by=None if choice is None else choice.decided_by,
        decided_at=None if choice is None else choice.decided_at,
    )


def _where(session: Session, choice: SignalChoice | None) -> str:
    if choice is None:
        return "default"
    if choice.mine_id is not None:
        return f"mine {session.get_one(Mine, choice.mine_id).code}"
    assert choice.org_id is not None
    return f"org {session.get_one(Org, choice.org_id).code}"


def mine_types(session: Session, principal: Principal, mine_code: str) -> SignalTypesOut:
    principal.require("alarm:view")
    mine, org = visible_mine(session, principal, mine_code)
    types, choice = in_force(session, mine, org.path)
    return _out(f"mine {mine.code}", types, choice, _where(session, choice))


def choose(
    session: Session,
    principal: Principal,
    data: SignalTypesIn,
    now: datetime,
    *,
    mine_code: str | None = None,
    org_code: str | None = None,
) -> SignalTypesOut:
    """A supervising unit's choice for one mine or an org's subtree (audited)."""
    _require_supervising(session, principal)
    types = [t.value for t in rules.choose(t.value for t in data.types)]
    if mine_code is not None:
        mine, _ = visible_mine(session, principal, mine_code)
        choice = repository.choice_of(session, mine_id=mine.id)
        target, kwargs = f"mine {mine.code}", {"mine_id": mine.id}
    else:
        assert org_code is not None
        found = repository.org_by_code(session, org_code)
        if found is None or not principal.sees(found.path):
            raise NotFound(f"org {org_code!r} not found")
        choice = repository.choice_of(session, org_id=found.id)
        target, kwargs = f"org {found.code}", {"org_id": found.id}
    before = None if choice is None else json.loads(choice.types)
    if choice is None:
        choice = SignalChoice(**kwargs, types="[]", decided_by="", decided_at=now)
        session.add(choice)
    choice.types = json.dumps(types)
    choice.decided_by = principal.name
    choice.decided_at = now
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="signals.choose",
        entity="signal_choice",
        key=target,
        detail={"types": types, "before": before},
        at=now,
    )
    return _out(target, types, choice, target)
