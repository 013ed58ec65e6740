"""The SQL of people, certificates, staffing rules and rosters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coalwatch.people.models import (
    Certificate,
    CertificateRenewal,
    Person,
    RosterEntry,
    StaffingRule,
)
from coalwatch.storage.models import Mine, Org
from coalwatch.users.models import User


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def person(session: Session, person_id: int) -> Person | None:
    return session.get(Person, person_id)


def person_of_user(session: Session, user_id: int) -> Person | None:
    return session.scalars(select(Person).where(Person.user_id == user_id)).first()


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def usernames(session: Session, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {user_id: username for user_id, username in rows}


def people_under(
    session: Session, path: str | None, org_id: int | None, mine_id: int | None
) -> list[tuple[Person, Org, Mine | None]]:
    """The people of a unit (``org_id``/``mine_id``), or of every unit under ``path``."""
    query = (
        select(Person, Org, Mine)
        .join(Org, Org.id == Person.org_id)
        .outerjoin(Mine, Mine.id == Person.mine_id)
        .order_by(Org.path, Mine.code, Person.name, Person.id)
    )
    if org_id is not None:
        query = query.where(Person.org_id == org_id)
        query = query.where(
            Person.mine_id == mine_id if mine_id is not None else Person.mine_id.is_(None)
        )
    elif path is not None:
        query = query.where(Org.path.startswith(path))
    return [(p, o, m) for p, o, m in session.execute(query)]


def register_kept(session: Session, org_id: int, mine_id: int | None) -> bool:
    """Whether the unit keeps a register of its people (any person recorded)."""
    query = select(Person.id).where(Person.org_id == org_id)
    query = query.where(
        Person.mine_id == mine_id if mine_id is not None else Person.mine_id.is_(None)
    )
    return session.scalars(query.limit(1)).first() is not None


def certificates_of(session: Session, person_ids: Sequence[int]) -> list[Certificate]:
    if not person_ids:
        return []
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.person_id.in_(person_ids))
            .order_by(Certificate.issued_on, Certificate.id)
        )
    )


def certificate(session: Session, certificate_id: int) -> Certificate | None:
    return session.get(Certificate, certificate_id)


def renewals_of(session: Session, certificate_ids: Sequence[int]) -> list[CertificateRenewal]:
    if not certificate_ids:
        return []
    return list(
        session.scalars(
            select(CertificateRenewal)
            .where(CertificateRenewal.certificate_id.in_(certificate_ids))
            .order_by(CertificateRenewal.renewed_on, CertificateRenewal.id)
        )
    )


def staffing_rule(session: Session, unit: str) -> StaffingRule | None:
    return session.get(StaffingRule, unit)


def roster(session: Session, unit: str, first: date, last: date) -> list[RosterEntry]:
    return list(
        session.scalars(
            select(RosterEntry)
            .where(RosterEntry.unit == unit, RosterEntry.day.between(first, last))
            .order_by(RosterEntry.day, RosterEntry.shift, RosterEntry.id)
        )
    )


def roster_entry(session: Session, entry_id: int) -> RosterEntry | None:
    return session.get(RosterEntry, entry_id)


def entry_of(
    session: Session, unit: str, day: date, shift: str, person_id: int
) -> RosterEntry | None:
    return session.scalars(
        select(RosterEntry).where(
            RosterEntry.unit == unit,
            RosterEntry.day == day,
            RosterEntry.shift == shift,
            RosterEntry.person_id == person_id,
        )
    ).first()


def rostered_units(session: Session, first: date, last: date) -> list[str]:
    """The units with a roster on these days."""
    return list(
        session.scalars(
            select(RosterEntry.unit).where(RosterEntry.day.between(first, last)).distinct()
        )
    )


def signed_on(session: Session) -> list[RosterEntry]:
    """Everyone signed on and not yet off."""
    return list(
        session.scalars(
            select(RosterEntry).where(
                RosterEntry.signed_on_at.is_not(None), RosterEntry.signed_off_at.is_(None)
            )
        )
    )


def people_by_id(session: Session, ids: Sequence[int]) -> dict[int, Person]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}


def mine_or_org(session: Session, code: str) -> tuple[Org, Mine | None] | None:
    """A unit by its code: a mine (with its org), else an org."""
    found = session.execute(
        select(Mine, Org).join(Org, Org.id == Mine.org_id).where(Mine.code == code)
    ).first()
    if found is not None:
        return found[1], found[0]
    org = session.scalars(select(Org).where(Org.code == code)).first()
    return (org, None) if org is not None else None


def unit_by_key(session: Session, key: str) -> tuple[Org, Mine | None] | None:
    kind, _, raw = key.partition(":")
    if kind == "mine":
        mine = session.get(Mine, int(raw))
        if mine is None:
            return None
        org = session.get(Org, mine.org_id)
        return (org, mine) if org is not None else None
    org = session.get(Org, int(raw))
    return (org, None) if org is not None else None


def first_mine_timezone(session: Session, path: str) -> str | None:
    return session.scalars(
        select(Mine.timezone)
        .join(Org, Org.id == Mine.org_id)
        .where(or_(Org.path.startswith(path)))
        .limit(1)
    ).first()
