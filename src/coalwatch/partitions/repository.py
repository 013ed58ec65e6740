"""All SQL of the raw partitions (PostgreSQL): the catalog, the DDL, the export reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import column, select, table, text
from sqlalchemy.orm import Session

from coalwatch.integrity.models import SignedBatch
from coalwatch.partitions.archive import Batch, Station, Summary
from coalwatch.partitions.models import RawArchive
from coalwatch.storage.models import Station as StationRow
from coalwatch.storage.partitioning import (
    PARTITIONED,
    next_month,
    parse_partition,
    partition_name,
)


class Part(NamedTuple):
    name: str
    table: str
    #: None: the default partition
    month: datetime | None
    attached: bool
    bytes: int
    rows_estimate: int


def parts(session: Session) -> list[Part]:
    """Every partition of the raw tables in this schema, and the month tables that were
    detached but not yet archived (an archive interrupted)."""
    rows = session.execute(
        text(
            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid), "
            "pg_total_relation_size(c.oid), GREATEST(c.reltuples, 0)::bigint "
            "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind = 'r' ORDER BY c.relname"
        )
    )
    found = []
    for name, attached, size, estimate in rows:
        parsed = parse_partition(str(name))
        if parsed is not None:
            found.append(Part(str(name), parsed[0], parsed[1], bool(attached), size, estimate))
    return found


def unbounded(session: Session) -> None:
    """No statement limit for the rest of this transaction: a month of a province's
    records is read, counted and moved in statements longer than the request limit
    (the lock limit stays: the job gives way to ingest and retries)."""
    session.execute(text("SET LOCAL statement_timeout = 0"))


def exists(session: Session, name: str) -> bool:
    return session.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}) is True


def default_months(session: Session, table: str) -> list[datetime]:
    """The months (UTC) of the rows that sit in the default partition."""
    key = PARTITIONED[table]
    return list(
        session.scalars(
            text(
                f"SELECT DISTINCT date_trunc('month', {key}, 'UTC') "
                f"FROM {partition_name(table, None)} ORDER BY 1"
            )
        )
    )


def create_partition(session: Session, table: str, start: datetime) -> None:
    """The partition of ``table`` for the month at ``start``, with the rows of that month
    that the default partition took meanwhile moved into it. Made beside the table and
    attached (a lighter lock than CREATE ... PARTITION OF, which locks out ingest)."""
    key, name, end = PARTITIONED[table], partition_name(table, start), next_month(start)
    default = partition_name(table, None)
    bounds = {"start": start, "end": end}
    session.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
    session.execute(
        text(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds "
            f"CHECK ({key} IS NOT NULL AND {key} >= '{start.isoformat()}' "
            f"AND {key} < '{end.isoformat()}')"
        )
    )
    session.execute(
        text(f"INSERT INTO {name} SELECT * FROM {default} WHERE {key} >= :start AND {key} < :end"),
        bounds,
    )
    session.execute(text(f"DELETE FROM {default} WHERE {key} >= :start AND {key} < :end"), bounds)
    session.execute(
        text(
            f"ALTER TABLE {table} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    session.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds"))


def detach(session: Session, table: str, name: str) -> None:
    session.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))


def drop(session: Session, name: str) -> None:
    session.execute(text(f"DROP TABLE {name}"))


def columns(session: Session, table: str) -> list[str]:
    return list(
        session.scalars(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"t": table},
        )
    )


def rows(session: Session, name: str, names: list[str]) -> Iterator[str]:
    """The rows in id order, each a JSON array of its values in the order of ``names``
    (instants ISO 8601 with offset), made by the database."""
    result = session.execute(
        text(
            f"SELECT json_build_array({', '.join(names)})::text FROM {name} ORDER BY id"
        ).execution_options(yield_per=10_000)
    )
    for (row,) in result:
        yield str(row)


def summary(session: Session, name: str, names: list[str]) -> Summary:
    kg = "coalesce(sum(increment_kg), 0)" if "increment_kg" in names else "0"
    count, total, first, last = session.execute(
        text(f"SELECT count(*), {kg}, min(id), max(id) FROM {name}")
    ).one()
    return Summary(int(count), int(total), first, last)


def batches(session: Session, name: str) -> Iterator[Batch]:
    """The signed uploads that brought the rows of ``name``, in id order."""
    result = session.execute(
        select(
            SignedBatch.id,
            SignedBatch.mine_id,
            SignedBatch.station_id,
            SignedBatch.received_at,
            SignedBatch.signature,
            SignedBatch.body,
        )
        .where(SignedBatch.id.in_(select(column("batch_id")).select_from(table(name))))
        .order_by(SignedBatch.id)
        .execution_options(yield_per=1000)
    )
    for row in result:
        yield Batch(*row)


def stations(session: Session, name: str) -> list[Station]:
    """The stations of the rows of ``name`` (those of their uploads too)."""
    rows = session.execute(
        select(StationRow.id, StationRow.code, StationRow.public_key)
        .where(StationRow.id.in_(select(column("station_id")).select_from(table(name))))
        .order_by(StationRow.id)
    )
    return [Station(int(i), str(c), str(k)) for i, c, k in rows]


def drop_archived_batches(session: Session, name: str) -> int:
    """Delete the signed uploads that brought rows of ``name`` (now in its archive file)
    and no record still in the database; returns how many. A stored record of an upload
    lies before the upload's receipt and the clock tolerance (a record dated further
    ahead is stored at its receipt): the records after the newest receipt plus a day
    are not read."""
    until = session.scalar(
        text(
            "SELECT max(b.received_at) FROM signed_batches b "
            f"WHERE b.id IN (SELECT batch_id FROM {name})"
        )
    )
    if until is None:
        return 0
    result = session.execute(
        text(
            "DELETE FROM signed_batches b "
            f"USING (SELECT DISTINCT batch_id FROM {name} WHERE batch_id IS NOT NULL) a "
            "WHERE b.id = a.batch_id AND NOT EXISTS (SELECT 1 FROM records r "
            "WHERE r.batch_id = b.id AND r.ts < :until)"
        ),
        {"until": until + timedelta(days=1)},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def archives(session: Session, table: str | None = None) -> list[RawArchive]:
    query = select(RawArchive).order_by(RawArchive.month_start, RawArchive.id)
    if table is not None:
        query = query.where(RawArchive.table_name == table)
    return list(session.scalars(query))


def add_archive(session: Session, archive: RawArchive) -> None:
    session.add(archive)
    session.flush()
