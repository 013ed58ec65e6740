"""raw records partitioned by month (PostgreSQL); archived partitions

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 13:00:00.000000

On PostgreSQL ``records`` (by ``ts``) and ``quarantined_records`` (by ``received_at``)
become tables range-partitioned by calendar month (UTC), with a default partition that
takes a record of any month without a partition of its own (nothing is refused). The
rows are moved into a partition per month they fall in, plus this month and the next
two; the partition job (coalwatch.partitions) keeps creating them ahead.

A partitioned table's primary key and unique constraints must contain the partition
key, so on PostgreSQL ``pk_records`` is (id, ts), ``uq_records_mine_id_station_id_seq``
is (mine_id, station_id, seq, ts), and likewise for the quarantine with received_at.
Ids still come from the one sequence (unique by construction). A record is a duplicate
when its seq is already held by the station (max_seq and the gaps, under the station's
row lock, coalwatch.ingest.service): that is what refuses a re-sent record, in any
month; the unique constraint is a last guard within a month.

The indexes stay as they were (each was found serving a query: the plans are in
docs/operations-guide.en.md, section "Raw storage").

``raw_archives`` lists the partitions exported to archive files and dropped.

SQLite keeps its simple tables (and its indexes). Written by hand.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)
#: partitions made ahead by the migration (the job keeps more)
_AHEAD = 2

#: (table, partition key, unique columns, foreign keys, indexes kept on PostgreSQL)
_TABLES: tuple[
    tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]], ...
] = (
    (
        "records",
        "ts",
        ("mine_id", "station_id", "seq"),
        (("mine_id", "mines"), ("station_id", "stations"), ("point_id", "points")),
        (
            "CREATE INDEX ix_records_point_ts ON records (point_id, ts)",
            "CREATE INDEX ix_records_point_type_ts ON records (point_id, type, ts)",
        ),
    ),
    (
        "quarantined_records",
        "received_at",
        ("mine_id", "station_id", "seq"),
        (("mine_id", "mines"), ("station_id", "stations")),
        (),
    ),
)


def _month(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def _partition(table: str, start: datetime) -> None:
    end = _month(start.year, start.month + 1)
    op.execute(
        f"CREATE TABLE {table}_y{start:%Y}m{start:%m} PARTITION OF {table} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def _set_views_aside() -> list[tuple[str, str, list[str]]]:
    """Drop the views that read the raw tables (the exchange views), returning how to
    make them again with their grants (a reader role's): a view is bound to the table it
    was made on, not to its name."""
    bind = op.get_bind()
    tables = ", ".join(f"'{t[0]}'::regclass" for t in _TABLES)
    rows = bind.execute(
        sa.text(
            "SELECT v.oid, v.relname, pg_get_viewdef(v.oid) FROM pg_class v WHERE v.oid IN ("
            "SELECT r.ev_class FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
            f"WHERE d.refobjid IN ({tables})) AND v.relkind = 'v' ORDER BY v.oid"
        )
    ).all()
    views = []
    for oid, name, definition in rows:
        grants = [
            f"GRANT {privilege} ON {name} TO {'PUBLIC' if grantee == 0 else grantee_name}"
            for grantee, grantee_name, privilege in bind.execute(
                sa.text(
                    "SELECT a.grantee, quote_ident(coalesce(r.rolname, 'public')), "
                    "a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
                    "LEFT JOIN pg_roles r ON r.oid = a.grantee "
                    "WHERE c.oid = :oid AND a.grantee <> c.relowner"
                ),
                {"oid": oid},
            )
        ]
        views.append((str(name), str(definition), grants))
    for name, _definition, _grants in reversed(views):
        op.execute(f"DROP VIEW {name}")
    return views


def _restore_views(views: list[tuple[str, str, list[str]]]) -> None:
    for name, definition, grants in views:
        op.execute(f"CREATE VIEW {name} AS {definition}")
        for grant in grants:
            op.execute(grant)


def upgrade() -> None:
    op.create_table(
        "raw_archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("month_start", _UTC, nullable=False),
        sa.Column("month_end", _UTC, nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("batches", sa.BigInteger(), nullable=False),
        sa.Column("increment_kg", sa.BigInteger(), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=True),
        sa.Column("last_id", sa.BigInteger(), nullable=True),
        sa.Column("archived_at", _UTC, nullable=False),
        sa.Column("archived_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_archives")),
        sa.UniqueConstraint("file_name", name=op.f("uq_raw_archives_file_name")),
    )
    op.create_index(
        "ix_raw_archives_table_month", "raw_archives", ["table_name", "month_start"], unique=False
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    now = datetime.now(UTC)
    views = _set_views_aside()
    for table, key, unique, foreign, indexes in _TABLES:
        old = f"{table}_unpartitioned"
        op.execute(f"ALTER TABLE {table} RENAME TO {old}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
        op.execute(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE) "
            f"PARTITION BY RANGE ({key})"
        )
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        months = {
            (int(y), int(m))
            for y, m in op.get_bind().execute(
                sa.text(
                    f"SELECT DISTINCT EXTRACT(YEAR FROM {key} AT TIME ZONE 'UTC'), "
                    f"EXTRACT(MONTH FROM {key} AT TIME ZONE 'UTC') FROM {old}"
                )
            )
        }
        months.update(
            (now.year + (now.month - 1 + n) // 12, (now.month - 1 + n) % 12 + 1)
            for n in range(_AHEAD + 1)
        )
        for year, month in sorted(months):
            _partition(table, _month(year, month))
        op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
        op.execute(f"DROP TABLE {old}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id, {key})")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT uq_{table}_{'_'.join(unique)} "
            f"UNIQUE ({', '.join(unique)}, {key})"
        )
        for column, target in foreign:
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_{column}_{target} "
                f"FOREIGN KEY ({column}) REFERENCES {target} (id)"
            )
        for statement in indexes:
            op.execute(statement)
    _restore_views(views)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        views = _set_views_aside()
        for table, _key, unique, foreign, _indexes in _TABLES:
            old = f"{table}_partitioned"
            op.execute(f"ALTER TABLE {table} RENAME TO {old}")
            op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
            op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE)")
            op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
            op.execute(f"DROP TABLE {old} CASCADE")
            op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT uq_{table}_{'_'.join(unique)} "
                f"UNIQUE ({', '.join(unique)})"
            )
            for column, target in foreign:
                op.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_{column}_{target} "
                    f"FOREIGN KEY ({column}) REFERENCES {target} (id)"
                )
        for statement in _TABLES[0][4]:
            op.execute(statement)
        _restore_views(views)
    op.drop_index("ix_raw_archives_table_month", table_name="raw_archives")
    op.drop_table("raw_archives")
