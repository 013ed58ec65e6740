"""All SQL of the backups: the ledger, and the counts of the figures fingerprint."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, func, inspect, or_, select, table, text
from sqlalchemy.orm import Session

from coalwatch.audit.checkpoints import Checkpoint
from coalwatch.audit.models import AuditCheckpoint, AuditEntry
from coalwatch.backups.models import BackupEntry
from coalwatch.partitions.models import RawArchive, RawChangeEpoch, RawMonthChange
from coalwatch.storage.base import Base
from coalwatch.storage.models import Mine

#: the ledger itself is not part of what a backup is compared by (a restore re-inserts
#: rows of later backups into it)
NOT_COUNTED = frozenset({BackupEntry.__tablename__})
#: tables that hold what the center has collected and been told; a migrated, unused
#: database has none of their rows (the built-in roles come with the migrations)
DATA_TABLES = ("orgs", "mines", "records", "users", "audit_log")


def mine_zones(session: Session) -> list[tuple[str, str]]:
    """(code, time zone) of every mine."""
    rows = session.execute(select(Mine.code, Mine.timezone).order_by(Mine.code))
    return [(str(code), str(zone)) for code, zone in rows]


def existing_tables(session: Session) -> set[str]:
    return set(inspect(session.connection()).get_table_names())


def row_counts(
    session: Session, known: Mapping[str, Mapping[str, int]] | None = None
) -> dict[str, int]:
    """Rows per table of the models (the tables this database has), but the ledger.

    ``known``: per partitioned table, partitions whose rows are known already (closed
    months, unchanged since they were counted): only its other partitions are counted."""
    present = existing_tables(session)
    counts = {}
    for name in sorted(Base.metadata.tables):
        if name in NOT_COUNTED or name not in present:
            continue
        parts = (known or {}).get(name)
        if parts:
            counts[name] = sum(parts.values()) + sum(
                count_rows(session, p) for p in partitions_of(session, name) if p not in parts
            )
        else:
            counts[name] = count_rows(session, name)
    return counts


def count_rows(session: Session, name: str) -> int:
    return int(session.scalar(select(func.count()).select_from(table(name))) or 0)


def partitions_of(session: Session, name: str) -> list[str]:
    """The partitions attached to table ``name`` (PostgreSQL)."""
    return list(
        session.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"
            ),
            {"t": name},
        )
    )


def ensure_change_epoch(session: Session) -> None:
    """The change epoch's row, if a database emptied by hand lost it (PostgreSQL)."""
    session.execute(
        text(
            f"INSERT INTO {RawChangeEpoch.__tablename__} (id, epoch) VALUES (1, :epoch) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {"epoch": str(uuid.uuid4())},
    )


def change_epoch(session: Session) -> str | None:
    return session.scalar(select(RawChangeEpoch.epoch).where(RawChangeEpoch.id == 1))


def renew_change_epoch(connection: Connection, schema: str) -> None:
    """A new change epoch in ``schema`` (a restored one), if it has the table."""
    name = f'"{schema}".{RawChangeEpoch.__tablename__}'
    if connection.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}):
        connection.execute(text(f"UPDATE {name} SET epoch = :epoch"), {"epoch": str(uuid.uuid4())})


def month_changes(session: Session) -> dict[tuple[str, datetime], int]:
    """(table, month start) -> rows changed after that month had ended."""
    rows = session.execute(
        select(RawMonthChange.table_name, RawMonthChange.month_start, RawMonthChange.changes)
    )
    return {(str(t), m): int(c) for t, m, c in rows}


def holds_data(session: Session) -> bool:
    present = existing_tables(session)
    for name in DATA_TABLES:
        if name in present and session.scalar(select(func.count()).select_from(table(name))):
            return True
    return False


def audit_head(session: Session) -> tuple[int, str] | None:
    row = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def audit_hash(session: Session, entry_id: int) -> str | None:
    return session.scalar(select(AuditEntry.hash).where(AuditEntry.id == entry_id))


def newest_change(
    session: Session,
    actions: Sequence[str],
    *,
    after_id: int,
    after_at: datetime | None,
    detail_contains: str | None = None,
) -> datetime | None:
    """When the newest audit entry of ``actions`` (an action, or a prefix ending in ".")
    was made, among those after entry ``after_id`` and the instant ``after_at``."""
    conditions = [
        AuditEntry.action.startswith(a, autoescape=True)
        if a.endswith(".")
        else AuditEntry.action == a
        for a in actions
    ]
    query = select(func.max(AuditEntry.at)).where(AuditEntry.id > after_id, or_(*conditions))
    if after_at is not None:
        query = query.where(AuditEntry.at > after_at)
    if detail_contains is not None:
        query = query.where(AuditEntry.detail.contains(detail_contains, autoescape=True))
    return session.scalar(query)


def ledger(session: Session) -> list[BackupEntry]:
    return list(session.scalars(select(BackupEntry).order_by(BackupEntry.created_at.desc())))


def newest(session: Session) -> BackupEntry | None:
    return session.scalars(
        select(BackupEntry).order_by(BackupEntry.created_at.desc(), BackupEntry.id.desc()).limit(1)
    ).first()


def by_file(session: Session, file_name: str) -> BackupEntry | None:
    return session.scalars(select(BackupEntry).where(BackupEntry.file_name == file_name)).first()


def add(session: Session, entry: BackupEntry) -> None:
    session.add(entry)
    session.flush()


def raw_archives(session: Session) -> list[RawArchive]:
    """The raw months archived and dropped (none before the table existed)."""
    if RawArchive.__tablename__ not in existing_tables(session):
        return []
    return list(session.scalars(select(RawArchive).order_by(RawArchive.month_start, RawArchive.id)))


def newest_checkpoint(session: Session) -> str | None:
    """The newest signed audit checkpoint, as its JSON line (None: none, or a database
    from before checkpoints)."""
    if AuditCheckpoint.__tablename__ not in existing_tables(session):
        return None
    row = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return Checkpoint(
        row.at, row.entry_count, row.head_id, row.head_hash, row.public_key, row.signature
    ).as_json()
