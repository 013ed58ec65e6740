from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from coalwatch.storage import facts
from coalwatch.storage.models import Mine, Org


def org_by_code(session: Session, code: str) -> Org | None:
    return session.scalars(select(Org).where(Org.code == code)).first()


def orgs_under(session: Session, path: str | None) -> list[Org]:
    query = select(Org).order_by(Org.path)
    if path is not None:
        query = query.where(Org.path.startswith(path, autoescape=True))
    return list(session.scalars(query))


def add_org(session: Session, org: Org) -> None:
    session.add(org)
    session.flush()


def mines_under(session: Session, path: str | None) -> list[tuple[Mine, Org]]:
    query = select(Mine, Org).join(Org, Org.id == Mine.org_id).order_by(Mine.code)
    if path is not None:
        query = query.where(Org.path.startswith(path, autoescape=True))
    return [(mine, org) for mine, org in session.execute(query)]


def mine_rows_under(session: Session, path: str | None) -> tuple[Row[Any], ...]:
    """(id, code, name) of the mines of a subtree, by code: rows, not entities, kept per
    process until a mine or an org changes (``storage.facts``)."""

    def load() -> tuple[Row[Any], ...]:
        query = select(Mine.id, Mine.code, Mine.name).join(Org, Org.id == Mine.org_id)
        if path is not None:
            query = query.where(Org.path.startswith(path, autoescape=True))
        return tuple(session.execute(query.order_by(Mine.code)))

    return facts.cached(session, ("mines under", path), _MINE_TABLES, load)


_MINE_TABLES = frozenset({"mines", "orgs"})
