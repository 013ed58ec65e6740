"""Raw storage that lasts 原始数据分区与归档 (PostgreSQL).

``records`` and ``quarantined_records`` are partitioned by calendar month (UTC,
coalwatch.storage.partitioning). The partition job

1. keeps partitions ready for this month and the next ``raw_partitions_ahead`` ones,
   and gives a month whose rows the default partition took (a late record of a month
   without a partition: it is stored, never refused) a partition of its own;
2. archives every month older than the retention (``raw_retention_days``, 2 years by
   the rule 保存期): the partition is detached (later records of that month go to the
   default partition, and get an archive of their own in turn), written to a
   compressed, checksummed archive file with the signed uploads that brought its
   records (coalwatch.partitions.archive), recorded in ``raw_archives`` and the audit
   log, and dropped, with the signed uploads that no stored record needs any more (the
   file holds them). ``coalwatch verify`` re-proves each archive file from its checksum
   and its stations' signatures, and counts its production in the hours it re-adds.

The rollups (hourly, daily) are kept for ever: every figure stays readable. On SQLite
the tables are not partitioned and nothing is archived.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.audit import service as audit
from coalwatch.config import Settings
from coalwatch.errors import Conflict, Invalid, NotFound
from coalwatch.partitions import archive, repository
from coalwatch.partitions.models import RawArchive
from coalwatch.storage.files import private_dir
from coalwatch.storage.partitioning import (
    PARTITIONED,
    month_of,
    month_start,
    next_month,
    partition_name,
)
from coalwatch.storage.session import transaction

log = logging.getLogger("coalwatch.partitions")

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Policy:
    directory: Path
    #: None: raw records are kept for ever
    retention: timedelta | None
    ahead: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        days = settings.raw_retention_days
        return cls(
            directory=settings.resolved_archive_dir,
            retention=timedelta(days=days) if days else None,
            ahead=settings.raw_partitions_ahead,
        )


def partitioned(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _require_postgresql(session: Session) -> None:
    if not partitioned(session):
        raise Invalid("raw records are partitioned on PostgreSQL only; SQLite keeps one table")


def ensure(session: Session, now: datetime, ahead: int) -> list[str]:
    """Partitions for this month and ``ahead`` more, and for every month the default
    partition holds rows of; returns those made."""
    if not partitioned(session):
        return []
    repository.unbounded(session)
    made = []
    this = month_of(now)
    for table in PARTITIONED:
        wanted = {month_start(this.year, this.month + n) for n in range(ahead + 1)}
        wanted.update(repository.default_months(session, table))
        for start in sorted(wanted):
            name = partition_name(table, start)
            if not repository.exists(session, name):
                repository.create_partition(session, table, start)
                made.append(name)
    return made


def ensure_month(session: Session, table: str, start: datetime) -> str:
    """The partition of one month (made, with its rows moved out of the default
    partition, when it is missing)."""
    _require_postgresql(session)
    name = partition_name(table, start)
    if not repository.exists(session, name):
        repository.create_partition(session, table, start)
    return name


def archive_month(
    sessions: sessionmaker[Session],
    policy: Policy,
    table: str,
    start: datetime,
    by: str,
    now: datetime,
) -> RawArchive:
    """Detach the month's partition, write it to an archive file, record it, drop it.

    An interrupted run leaves the detached table (``partitions list`` shows it): the next
    run of this month takes up from there.
    """
    if table not in PARTITIONED:
        raise NotFound(f"{table} is not a partitioned raw table ({', '.join(PARTITIONED)})")
    start = month_of(start)
    end = next_month(start)
    if end > now:
        raise Conflict(f"{start:%Y-%m} has not ended: only past months are archived")
    name = partition_name(table, start)
    with transaction(sessions) as session:
        _require_postgresql(session)
        repository.unbounded(session)
        attached = {p.name: p.attached for p in repository.parts(session)}
        if name not in attached:
            if start not in repository.default_months(session, table):
                raise NotFound(f"{table} holds no rows of {start:%Y-%m}")
            ensure_month(session, table, start)
            attached[name] = True
    if attached[name]:
        with transaction(sessions) as session:
            repository.detach(session, table, name)
    directory = policy.directory
    private_dir(directory)
    path = directory / archive.free_name(directory, table, start)
    with transaction(sessions) as session:
        repository.unbounded(session)
        names = repository.columns(session, name)
        signed = "batch_id" in names
        written = archive.write(
            path,
            table=table,
            start=start,
            end=end,
            columns=names,
            rows=repository.rows(session, name, names),
            summary=repository.summary(session, name, names),
            stations=repository.stations(session, name) if signed else [],
            batches=repository.batches(session, name) if signed else [],
            archived_at=now,
        )
    with transaction(sessions) as session:
        repository.unbounded(session)
        row = RawArchive(
            table_name=table,
            month_start=start,
            month_end=end,
            file_name=written.file_name,
            sha256=written.sha256,
            size_bytes=written.size_bytes,
            rows=written.rows,
            batches=written.batches,
            increment_kg=written.increment_kg,
            first_id=written.first_id,
            last_id=written.last_id,
            archived_at=now,
            archived_by=by,
        )
        repository.add_archive(session, row)
        audit.record(
            session,
            actor=by,
            action="raw.archive",
            entity="raw_archive",
            key=written.file_name,
            detail={
                "table": table,
                "month": f"{start:%Y-%m}",
                "rows": written.rows,
                "batches": written.batches,
                "increment_kg": written.increment_kg,
                "sha256": written.sha256,
            },
            at=now,
        )
        if signed:  # their bodies and signatures are in the file now
            repository.drop_archived_batches(session, name)
        repository.drop(session, name)
        session.expunge(row)
    log.info("archived %s to %s (%d rows)", name, written.file_name, written.rows)
    return row


def due(session: Session, policy: Policy, now: datetime) -> list[tuple[str, datetime]]:
    """The months past the retention that are still in the database (attached, or
    detached by an interrupted archive)."""
    if policy.retention is None or not partitioned(session):
        return []
    cutoff = now - policy.retention
    return [
        (p.table, p.month)
        for p in repository.parts(session)
        if p.month is not None and next_month(p.month) <= cutoff
    ]


def run_retention(
    sessions: sessionmaker[Session], policy: Policy, now: datetime, by: str = SYSTEM
) -> list[RawArchive]:
    with transaction(sessions) as session:
        months = due(session, policy, now)
    return [archive_month(sessions, policy, table, start, by, now) for table, start in months]


class PartitionJob:
    """The jobs process's step: partitions ahead, then the retention (at most hourly);
    a failure is logged once and retried at the next round."""

    def __init__(self, policy: Policy, interval: timedelta = timedelta(hours=1)) -> None:
        self.policy = policy
        self._interval = interval
        self._last: datetime | None = None
        self._failing = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PartitionJob:
        return cls(Policy.from_settings(settings))

    def __call__(self, sessions: sessionmaker[Session], now: datetime) -> None:
        if self._last is not None and now - self._last < self._interval:
            return
        try:
            with transaction(sessions) as session:
                if not partitioned(session):
                    self._last = now
                    return
                ensure(session, now, self.policy.ahead)
            run_retention(sessions, self.policy, now)
        except Exception:
            if not self._failing:
                log.exception("raw partitions: the round failed; retrying")
                self._failing = True
            return
        self._last = now
        if self._failing:
            log.info("raw partitions: the round works again")
            self._failing = False


def archive_path(policy: Policy, row: RawArchive) -> Path:
    return policy.directory / row.file_name
