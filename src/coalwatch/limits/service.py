"""法定时限: the rulebook's deadlines and windows (``LEGAL_LIMITS``) are ceilings. A
supervising unit (``region:limits``, at or above the org) shortens one for its subtree;
nobody lengthens one beyond the rulebook or beyond what a level above set; a mine's
limit is the shortest along its ancestors (and of a shortening set for that mine alone
through its thresholds). Every change is audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Threshold
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.alarms import LEGAL_LIMITS, MIN_LEGAL_LIMIT, THRESHOLD_LABELS
from coalwatch.domain.authority import supervises
from coalwatch.errors import N_, Invalid, NotFound
from coalwatch.limits.models import LegalLimit
from coalwatch.limits.schemas import LimitOut, LimitsOut
from coalwatch.mines.service import visible_mine
from coalwatch.orgs.authority import require_decision
from coalwatch.orgs.service import unit_of, visible_org
from coalwatch.storage.models import Mine, Org

PERMISSION = "region:limits"


@dataclass(frozen=True, slots=True)
class Setting:
    """A value set at one level: an org, or one mine (through its thresholds)."""

    name: str
    value: int
    code: str
    level: str
    by: str
    at: datetime


def _ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def org_path(session: Session, code: str) -> str:
    org = session.scalars(select(Org).where(Org.code == code)).first()
    if org is None:
        raise NotFound(f"org {code!r} not found")
    return org.path


def settings_above(session: Session, paths: Iterable[str]) -> dict[str, list[Setting]]:
    """The limits set at each path's org and the orgs above it, by path."""
    wanted = {path: _ids(path) for path in set(paths)}
    ids = {i for chain in wanted.values() for i in chain}
    if not ids:
        return {path: [] for path in wanted}
    rows = session.execute(
        select(LegalLimit, Org).join(Org, Org.id == LegalLimit.org_id).where(Org.id.in_(ids))
    ).all()
    found: dict[str, list[Setting]] = {}
    for path, chain in wanted.items():
        depth = {org_id: n for n, org_id in enumerate(chain)}
        at = sorted(
            ((row, org) for row, org in rows if org.id in depth), key=lambda p: depth[p[1].id]
        )
        found[path] = [
            Setting(row.name, row.value, org.code, org.kind, row.set_by, row.set_at)
            for row, org in at
        ]
    return found


def ceilings(settings: Iterable[Setting]) -> dict[str, int]:
    """The longest each legal limit may be, given what the levels set."""
    found = dict(LEGAL_LIMITS)
    for s in settings:
        if s.name in found:
            found[s.name] = min(found[s.name], s.value)
    return found


def mine_ceilings(session: Session, mine_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Each mine's legal limits as its org and the orgs above it set them."""
    query = select(Mine.id, Org.path).join(Org, Org.id == Mine.org_id)
    paths = {mine_id: path for mine_id, path in session.execute(query.where(Mine.id.in_(mine_ids)))}
    above = settings_above(session, paths.values())
    return {mine_id: ceilings(above[path]) for mine_id, path in paths.items()}


def check_value(name: str, value: int, above: list[Setting]) -> None:
    """422 unless ``value`` is a legal limit no longer than the rulebook's and than what
    the levels ``above`` set."""
    if name not in LEGAL_LIMITS:
        raise Invalid(f"unknown legal limit {name!r}; known: {', '.join(LEGAL_LIMITS)}")
    if value < MIN_LEGAL_LIMIT:
        raise Invalid(
            N_("%(label)s 至少为 %(least)s"),
            {"name": name, "least": MIN_LEGAL_LIMIT},
            params={"label": THRESHOLD_LABELS[name], "least": MIN_LEGAL_LIMIT},
            labels={"label"},
        )
    rulebook = LEGAL_LIMITS[name]
    if value > rulebook:
        raise Invalid(
            N_("不得放宽：%(label)s 法定上限 %(limit)s"),
            {"name": name, "ceiling": rulebook, "set_at": None},
            params={"label": THRESHOLD_LABELS[name], "limit": rulebook},
            labels={"label"},
        )
    tighter = [s for s in above if s.name == name and s.value < value]
    if tighter:
        first = min(tighter, key=lambda s: s.value)
        raise Invalid(
            N_("不得放宽：%(label)s 已由上级 %(org)s 定为 %(limit)s"),
            {"name": name, "ceiling": first.value, "set_at": first.code},
            params={"label": THRESHOLD_LABELS[name], "org": first.code, "limit": first.value},
            labels={"label"},
        )


def set_limit(
    session: Session,
    principal: Principal,
    org_code: str,
    name: str,
    value: int | None,
    now: datetime,
) -> LimitsOut:
    """Shorten a legal limit for an org's subtree (None: return to the level above's)."""
    principal.require(PERMISSION)
    org = visible_org(session, principal, org_code)
    require_decision(session, principal, PERMISSION, org)
    if name not in LEGAL_LIMITS:
        raise Invalid(f"unknown legal limit {name!r}; known: {', '.join(LEGAL_LIMITS)}")
    parent = org.path.rstrip("/").rpartition("/")[0] + "/"
    above = settings_above(session, [parent])[parent] if parent != "/" else []
    if value is not None:
        check_value(name, value, above)
    row = session.scalars(
        select(LegalLimit).where(LegalLimit.org_id == org.id, LegalLimit.name == name)
    ).first()
    before = row.value if row else None
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            LegalLimit(org_id=org.id, name=name, value=value, set_by=principal.name, set_at=now)
        )
    else:
        row.value, row.set_by, row.set_at = value, principal.name, now
    session.flush()
    forget_thresholds(session)
    audit.record(
        session,
        actor=principal.name,
        action="limit.set",
        entity="legal_limit",
        key=f"{org.code}/{name}",
        detail={"before": before, "after": value, "level": org.kind},
        at=now,
    )
    return org_limits(session, principal, org.code)


def forget_thresholds(session: Session) -> None:
    """Drop the thresholds read in this transaction: a limit changed under them."""
    session.info.pop("coalwatch.thresholds", None)


def _out(name: str, settings: list[Setting], own: int | None) -> LimitOut:
    mine = [s for s in settings if s.name == name]
    holding = min(mine, key=lambda s: s.value, default=None)
    if holding is not None and holding.value >= LEGAL_LIMITS[name]:
        holding = None
    return LimitOut(
        name=name,
        rulebook=LEGAL_LIMITS[name],
        effective=holding.value if holding else LEGAL_LIMITS[name],
        set_at=holding.code if holding else None,
        set_level=holding.level if holding else None,
        set_by=holding.by if holding else None,
        set_on=holding.at if holding else None,
        own=own,
    )


def org_limits(session: Session, principal: Principal, org_code: str) -> LimitsOut:
    org = visible_org(session, principal, org_code)
    settings = settings_above(session, [org.path])[org.path]
    own = {s.name: s.value for s in settings if s.code == org.code}
    return LimitsOut(
        code=org.code, items=[_out(name, settings, own.get(name)) for name in LEGAL_LIMITS]
    )


def mine_limits(session: Session, principal: Principal, mine_code: str) -> LimitsOut:
    """A mine's limits: its orgs' and those shortened for the mine alone (its thresholds)."""
    mine, org = visible_mine(session, principal, mine_code)
    settings = settings_above(session, [org.path])[org.path]
    own: dict[str, int] = {}
    for row in session.scalars(
        select(Threshold).where(
            Threshold.mine_id == mine.id,
            Threshold.point_id.is_(None),
            Threshold.name.in_(LEGAL_LIMITS),
        )
    ):
        own[row.name] = row.value
        settings.append(
            Setting(row.name, row.value, mine.code, "mine", row.updated_by, row.updated_at)
        )
    return LimitsOut(
        code=mine.code, items=[_out(name, settings, own.get(name)) for name in LEGAL_LIMITS]
    )


def deciding_levels(session: Session, principal: Principal, mine_code: str) -> list[Org]:
    """The orgs above a mine at which ``principal`` may shorten its limits (for the page)."""
    if not principal.has(PERMISSION):
        return []
    _, org = visible_mine(session, principal, mine_code)
    unit = unit_of(session, principal)
    chain = session.scalars(select(Org).where(Org.id.in_(_ids(org.path)))).all()
    return sorted(
        (
            o
            for o in chain
            if principal.sees(o.path)
            and supervises(unit.kind if unit else None, principal.scope_path, o.path)
        ),
        key=lambda o: len(o.path),
    )
