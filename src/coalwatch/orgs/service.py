"""The organisation tree 单位: province → city → county → company, mines below."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.errors import N_, Conflict, Forbidden, Invalid, NotFound
from coalwatch.federation.queue import enqueue_config
from coalwatch.orgs import repository
from coalwatch.orgs.schemas import OrgIn, OrgOut
from coalwatch.storage.models import Org

#: a child must sit strictly below its parent in this order
LEVELS = {"province": 0, "city": 1, "county": 2, "company": 3}


def unavailable(what: str, code: str) -> Conflict:
    """A code (or user name) that is taken, whoever holds it and wherever: codes are unique
    across the center, and the answer must not tell a scoped caller what exists outside
    its scope, so it says neither whether nor where the code is used. ``what`` is a label
    (单位编码 ...), shown in the reader's language."""
    return Conflict(
        N_("%(what)s %(code)s 不可用，请换一个"),
        {"code": code},
        params={"what": what, "code": repr(code)},
        labels={"what"},
    )


def create_org(session: Session, principal: Principal, data: OrgIn, now: datetime) -> OrgOut:
    principal.require("system:write")
    parent = None
    if data.parent is not None:
        parent = repository.org_by_code(session, data.parent)
        if parent is None or not principal.sees(parent.path):
            raise Invalid(f"parent org {data.parent!r} not found")
        if LEVELS[data.kind] <= LEVELS[parent.kind]:
            raise Invalid(f"a {data.kind} cannot be placed under a {parent.kind}")
    elif principal.scope_path is not None:
        raise Forbidden("a token scoped to a subtree cannot create a root org")
    if repository.org_by_code(session, data.code) is not None:
        raise unavailable(N_("单位编码"), data.code)
    org = Org(
        code=data.code,
        name=data.name,
        kind=data.kind,
        parent_id=parent.id if parent else None,
        path="",
        created_at=now,
    )
    repository.add_org(session, org)
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    audit.record_change(
        session, actor=principal.name, action="org.create", key=org.code, data=data, at=now
    )
    enqueue_config(session, "org.create", org.code, data.model_dump(mode="json"), now)
    return OrgOut(code=org.code, name=org.name, kind=org.kind, parent=data.parent)


def list_orgs(session: Session, principal: Principal) -> list[OrgOut]:
    orgs = repository.orgs_under(session, principal.scope_path)
    by_id = {org.id: org for org in repository.orgs_under(session, None)}
    return [
        OrgOut(
            code=org.code,
            name=org.name,
            kind=org.kind,
            parent=by_id[org.parent_id].code if org.parent_id is not None else None,
        )
        for org in orgs
    ]


def unit_tree(session: Session, principal: Principal) -> list[tuple[str, str, int]]:
    """The units of the principal's scope in tree order, as (code, name, depth below the
    scope's top) for a unit picker."""
    depth: dict[int, int] = {}
    units = []
    for org in repository.orgs_under(session, principal.scope_path):
        depth[org.id] = depth.get(org.parent_id or -1, -1) + 1
        units.append((org.code, org.name, depth[org.id]))
    return units


def visible_org(session: Session, principal: Principal, code: str) -> Org:
    org = repository.org_by_code(session, code)
    if org is None or not principal.sees(org.path):
        raise NotFound(f"org {code!r} not found")
    return org


def unit_of(session: Session, principal: Principal) -> Org | None:
    """The org a principal belongs to (the last node of its scope); None: the whole tree."""
    if principal.scope_path is None:
        return None
    return session.get(Org, int(principal.scope_path.strip("/").rsplit("/", 1)[-1]))
