from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

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
