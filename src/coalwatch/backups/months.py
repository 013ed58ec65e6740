"""The closed raw months of a PostgreSQL backup: each is dumped once to a month file.

A month partition of a raw table (coalwatch.storage.partitioning) is *closed* when its
month ended more than :data:`GRACE` before the backup. A backup dumps a closed month's
rows to a file of their own (``pg_dump --data-only`` of the partition, in the backup's
snapshot) and leaves them out of its main file; the next backup names the same file
while the month's change mark is unchanged, and dumps the month again when it changed.

The mark is ``<epoch>:<changes>``: ``changes`` counts the rows of the month inserted,
updated or deleted after the month had ended (``raw_month_changes``, kept by triggers
in the transaction that changes them, migration 0038), ``epoch`` is a random value a
restore renews (the restored counts would otherwise count up again to marks of files
holding other rows). Both are read in the backup's snapshot, like the rows.

A backup that was killed leaves month files no manifest names (and ``.partial`` files);
they are removed (:func:`leftovers`) only while no backup is being made in the
directory (coalwatch.backups.service holds a lock on the directory for that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from coalwatch.backups import repository
from coalwatch.backups.schemas import Manifest, MonthFile
from coalwatch.partitions import repository as partitions
from coalwatch.partitions.models import RawChangeEpoch, RawMonthChange
from coalwatch.storage.partitioning import next_month

#: a month is closed this long after its end: the triggers count a change by the
#: database's clock at the start of its transaction, so a transaction begun before the
#: month ended, or a center clock ahead of the database's, is not missed
GRACE = timedelta(days=1)

#: the files a backup writes: ``coalwatch-<instant>-<trigger>[-n]``, then
#: ``.<partition>`` for a month file, the extension, ``.json`` for the manifest, and
#: ``.partial`` while it is written
_BACKUP_FILE = re.compile(
    r"^(?P<backup>coalwatch-\d{8}T\d{6}Z-[a-z_]+(?:-\d+)?)(?:\.(?P<partition>[a-z0-9_]+))?"
    r"\.(?P<extension>pgdump|sqlite3)(?P<manifest>\.json)?(?P<partial>\.partial)?$"
)


@dataclass(frozen=True, slots=True)
class Closed:
    table: str
    month: datetime
    partition: str
    mark: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.table, f"{self.month:%Y-%m}", self.mark)


def marked(session: Session) -> bool:
    """Whether this database keeps change marks (PostgreSQL, migrated to 0038)."""
    tables = {RawMonthChange.__tablename__, RawChangeEpoch.__tablename__}
    return session.get_bind().dialect.name == "postgresql" and tables <= (
        repository.existing_tables(session)
    )


def closed(session: Session, now: datetime) -> list[Closed]:
    """The closed month partitions with their change marks (none without marks)."""
    if not marked(session):
        return []
    epoch = repository.change_epoch(session)
    if epoch is None:
        return []
    changes = repository.month_changes(session)
    return [
        Closed(
            part.table, part.month, part.name, f"{epoch}:{changes.get((part.table, part.month), 0)}"
        )
        for part in partitions.parts(session)
        if part.attached and part.month is not None and next_month(part.month) + GRACE <= now
    ]


def reusable(directory: Path, kept: Iterable[Manifest]) -> dict[tuple[str, str, str], MonthFile]:
    """The month files the kept backups name that are still in ``directory`` whole (by
    size: a reused file is not read again; ``backup verify`` checks its SHA-256), by
    (table, month, mark)."""
    found: dict[tuple[str, str, str], MonthFile] = {}
    for manifest in kept:
        if manifest.pruned_at is not None:
            continue
        for month in manifest.raw_months:
            path = directory / month.file_name
            if path.is_file() and path.stat().st_size == month.size_bytes:
                found[(month.table, month.month, month.mark)] = month
    return found


def file_name(backup: str, partition: str) -> str:
    """The month file a backup writes for a partition, named after the backup."""
    stem, dot, extension = backup.rpartition(".")
    return f"{stem}.{partition}{dot}{extension}"


def named(kept: Iterable[Manifest]) -> set[str]:
    """The month files the manifests name."""
    return {month.file_name for manifest in kept for month in manifest.raw_months}


def leftovers(directory: Path, found: Iterable[Manifest]) -> list[Path]:
    """What killed backups left in ``directory``: their ``.partial`` files, their main
    files put in place without a manifest (never restored: their checksum cannot be
    checked), and the month files that no kept backup names and whose own backup has no
    manifest or was pruned (a manifest that cannot be read keeps its month files). Only
    valid while no backup is being made there."""
    readable = {m.file_name: m for m in found}
    needed = named(m for m in readable.values() if m.pruned_at is None)
    stale: list[Path] = []
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        match = _BACKUP_FILE.match(path.name)
        if match is None or not path.is_file():
            continue
        if match["partial"]:
            stale.append(path)
            continue
        if match["manifest"]:
            continue
        if match["partition"] is None:
            if not (directory / f"{path.name}.json").exists():
                stale.append(path)
            continue
        if path.name in needed:
            continue
        writer = f"{match['backup']}.{match['extension']}"
        own = readable.get(writer)
        if (directory / f"{writer}.json").exists() and (own is None or own.pruned_at is None):
            continue
        stale.append(path)
    return stale
