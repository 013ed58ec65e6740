"""Who decides what (domain.md): the yardsticks a mine is judged by are decided only by a
supervising unit 监管单位 (county, city, province office) at or above the mine; a mine's
staff apply and never approve their own.

A caller decides for a mine when it holds the decision's permission and sits at a
supervising unit above the mine: a user or token of that unit (or of one above it), or
an unscoped caller of a center whose tree holds a supervising unit above the mine. A
refusal names the permission and the nearest supervising unit above the mine.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.auth.permissions import DECISIONS
from coalwatch.auth.principal import Principal
from coalwatch.domain.authority import FROM_UPSTREAM, SUPERVISING_KINDS, supervises
from coalwatch.errors import N_, Forbidden
from coalwatch.storage.models import Org


def _ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def deciding_unit(session: Session, org: Org) -> Org | None:
    """The nearest supervising unit at or above ``org`` (a mine's unit); None when this
    center's tree holds none (a mine's own center: it decides nothing of its own)."""
    ids = _ids(org.path)
    units = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_(ids)))}
    return next(
        (units[i] for i in reversed(ids) if i in units and units[i].kind in SUPERVISING_KINDS),
        None,
    )


def is_supervising(org: Org | None) -> bool:
    """A user of ``org`` may hold decisions: a supervising unit, or no unit (the center)."""
    return org is None or org.kind in SUPERVISING_KINDS


def may_decide(session: Session, principal: Principal, permission: str, org: Org) -> bool:
    if session.info.get(FROM_UPSTREAM):
        return True  # decided by the upstream's supervising unit, applied here as such
    if not principal.has(permission) or deciding_unit(session, org) is None:
        return False
    own = None if principal.scope_path is None else session.get(Org, _ids(principal.scope_path)[-1])
    return supervises(own.kind if own else None, principal.scope_path, org.path)


def refusal(permission: str, unit: Org | None) -> Forbidden:
    """403: ``permission`` is needed, and ``unit`` (by name) is who decides."""
    if unit is None:  # not known to the caller, or not in this center's tree
        return Forbidden(
            N_("需要 %(permission)s：由矿井之上的监管单位决定"),
            {"permission": permission, "unit": None, "unit_name": None},
            params={"permission": permission},
        )
    return Forbidden(
        N_("需要 %(permission)s：由 %(unit)s 决定"),
        {"permission": permission, "unit": unit.code, "unit_name": unit.name},
        params={"permission": permission, "unit": unit.name},
    )


def require_decision(session: Session, principal: Principal, permission: str, org: Org) -> None:
    """403 unless the caller may take the decision ``permission`` for a mine of ``org``."""
    if not may_decide(session, principal, permission, org):
        raise refusal(permission, deciding_unit(session, org))


def beyond_the_unit(permissions: Iterable[str]) -> list[str]:
    """The decisions among ``permissions`` (``*`` holds them all): what a user of a mine
    (a unit that is not supervising) may not be given."""
    held = set(permissions)
    return sorted(DECISIONS if "*" in held else held & DECISIONS)
