"""The raw tables that PostgreSQL keeps partitioned by month, and how their parts are
named. SQLite keeps them as simple tables.

A partition holds one calendar month (UTC) of its table's partition key and is named
``<table>_y<YYYY>m<MM>``; ``<table>_default`` takes a row of any month that has no
partition (a late record is never refused). The partitions are made ahead by the
partition job and by the migration, never declared in the models.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

#: table -> the column it is partitioned by
PARTITIONED: dict[str, str] = {"records": "ts", "quarantined_records": "received_at"}
#: on PostgreSQL these unique constraints carry the partition key as their last column
_UNIQUES = frozenset(
    {"uq_records_mine_id_station_id_seq", "uq_quarantined_records_mine_id_station_id_seq"}
)
_PART = re.compile(r"^(?P<table>[a-z_]+)_(?:y(?P<year>\d{4})m(?P<month>\d{2})|default)$")


def month_start(year: int, month: int) -> datetime:
    """The first instant of a month (UTC); months past 12 roll into the next years."""
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def month_of(instant: datetime) -> datetime:
    at = instant.astimezone(UTC)
    return month_start(at.year, at.month)


def next_month(start: datetime) -> datetime:
    return month_start(start.year, start.month + 1)


def partition_name(table: str, start: datetime | None) -> str:
    """The partition of ``table`` for the month starting at ``start`` (None: default)."""
    return f"{table}_default" if start is None else f"{table}_y{start:%Y}m{start:%m}"


def parse_partition(name: str) -> tuple[str, datetime | None] | None:
    """(table, month start or None for the default) of a partition's name, else None."""
    match = _PART.match(name)
    if match is None or match["table"] not in PARTITIONED:
        return None
    if match["year"] is None:
        return match["table"], None
    return match["table"], month_start(int(match["year"]), int(match["month"]))


def include_object_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """What a comparison of the models with a ``dialect`` database looks at: not the
    partitions (made at run time), and on PostgreSQL not the shape of the unique
    constraints it extends by the partition key (tests/partitions checks that shape)."""

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table" and reflected and name is not None and parse_partition(name):
            return False
        return not (type_ == "unique_constraint" and name in _UNIQUES and dialect == "postgresql")

    return include_object
