"""change marks of the raw months, for backups that dump each closed month once

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 16:30:00.000000

- ``raw_month_changes``: per raw table and month (UTC), how many rows were inserted,
  updated or deleted after the month had ended.
- ``raw_change_epoch``: one random value, renewed by a restore and by a TRUNCATE of a
  raw table; with the count it makes a month's change mark (coalwatch.backups.months).

On PostgreSQL, statement-level triggers with transition tables on the partitioned
``records`` and ``quarantined_records`` (one per event: PostgreSQL takes transition
tables for one event a trigger) count the rows of ended months, in the transaction
that changes them. The rows of the current month (the normal ingest) touch no row of
``raw_month_changes``. A statement on a partition itself (not through its table) is not
counted: coalwatch only does that to move rows of the default partition into a new
partition, rows already counted when they came. SQLite has the tables, unused.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)
#: table -> its partition key (coalwatch.storage.partitioning.PARTITIONED)
_TABLES = {"records": "ts", "quarantined_records": "received_at"}
#: event -> (the transition tables, the rows to count)
_EVENTS = {
    "insert": ("NEW TABLE AS new_rows", "SELECT {key} FROM new_rows"),
    "update": (
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT {key} FROM old_rows UNION ALL SELECT {key} FROM new_rows",
    ),
    "delete": ("OLD TABLE AS old_rows", "SELECT {key} FROM old_rows"),
}


def _count_function(table: str, key: str, event: str) -> str:
    rows = _EVENTS[event][1].format(key=key)
    return f"""
CREATE FUNCTION raw_changes_{table}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO raw_month_changes AS c (table_name, month_start, changes)
    SELECT '{table}', date_trunc('month', r.{key}, 'UTC'), count(*)
    FROM ({rows}) r
    WHERE r.{key} < date_trunc('month', now(), 'UTC')
    GROUP BY 2
    ON CONFLICT (table_name, month_start) DO UPDATE SET changes = c.changes + excluded.changes;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.create_table(
        "raw_month_changes",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("month_start", _UTC, nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "month_start", name=op.f("pk_raw_month_changes")),
    )
    op.create_table(
        "raw_change_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_change_epoch")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("INSERT INTO raw_change_epoch (id, epoch) VALUES (1, gen_random_uuid()::text)")
    op.execute(
        "CREATE FUNCTION raw_changes_new_epoch() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    UPDATE raw_change_epoch SET epoch = gen_random_uuid()::text;\n"
        "    RETURN NULL;\n"
        "END $$"
    )
    for table, key in _TABLES.items():
        for event, (transition, _rows) in _EVENTS.items():
            op.execute(_count_function(table, key, event))
            op.execute(
                f"CREATE TRIGGER raw_changes_{event} AFTER {event.upper()} ON {table} "
                f"REFERENCING {transition} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION raw_changes_{table}_{event}()"
            )
        op.execute(
            f"CREATE TRIGGER raw_changes_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION raw_changes_new_epoch()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            for event in (*_EVENTS, "truncate"):
                op.execute(f"DROP TRIGGER raw_changes_{event} ON {table}")
            for event in _EVENTS:
                op.execute(f"DROP FUNCTION raw_changes_{table}_{event}()")
        op.execute("DROP FUNCTION raw_changes_new_epoch()")
    op.drop_table("raw_change_epoch")
    op.drop_table("raw_month_changes")
