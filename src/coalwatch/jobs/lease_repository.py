"""The SQL of the job leases (table ``job_leases``); see coalwatch.jobs.leader."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coalwatch.jobs.models import CenterBeat, CenterOutage, JobLease


def database_now(session: Session) -> datetime:
    """The time by the database server's clock on PostgreSQL, so that two center machines
    whose clocks disagree still agree on when a lease expires; on SQLite (one machine,
    one file) the local clock."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.execute(text("SELECT clock_timestamp()")).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)
    return datetime.now(UTC)


def get(session: Session, name: str) -> JobLease | None:
    return session.execute(select(JobLease).where(JobLease.name == name)).scalar_one_or_none()


def create(session: Session, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
    """The first lease of that name, held by ``holder``; False when another took it first."""
    try:
        with session.begin_nested():
            session.add(
                JobLease(
                    name=name,
                    holder=holder,
                    term=1,
                    acquired_at=now,
                    expires_at=expires_at,
                    last_round_at=None,
                )
            )
    except IntegrityError:
        return False
    return True


def renew(session: Session, name: str, holder: str, term: int, expires_at: datetime) -> bool:
    """Extend the lease if ``holder`` still has it in ``term``."""
    result = session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder, JobLease.term == term)
        .values(expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def take_over(
    session: Session, name: str, holder: str, seen_term: int, now: datetime, expires_at: datetime
) -> bool:
    """Take an expired lease: a compare-and-set on the term seen, so that of two
    candidates only one wins (PostgreSQL re-checks the WHERE under the row lock;
    SQLite writes one at a time)."""
    result = session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.term == seen_term, JobLease.expires_at <= now)
        .values(
            holder=holder,
            term=seen_term + 1,
            acquired_at=now,
            expires_at=expires_at,
            last_round_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, name: str, holder: str, term: int, now: datetime) -> None:
    """Let the lease expire now (a clean stop): the standby need not wait it out."""
    session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder, JobLease.term == term)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


def note_round(session: Session, name: str, holder: str, term: int, at: datetime) -> None:
    session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder, JobLease.term == term)
        .values(last_round_at=at)
        .execution_options(synchronize_session=False)
    )


def beat(session: Session, name: str) -> CenterBeat | None:
    """The beat row of that name, locked for this transaction."""
    return session.execute(
        select(CenterBeat).where(CenterBeat.name == name).with_for_update()
    ).scalar_one_or_none()


def add(session: Session, row: CenterBeat | CenterOutage) -> None:
    session.add(row)
    session.flush()


def outages(session: Session, limit: int) -> list[CenterOutage]:
    """The center's latest absences, newest first."""
    return list(
        session.scalars(
            select(CenterOutage)
            .order_by(CenterOutage.end.desc(), CenterOutage.id.desc())
            .limit(limit)
        )
    )
