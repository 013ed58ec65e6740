"""``coalwatch partitions list | ensure | archive | retention`` (原始数据分区与归档)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from coalwatch.auth.principal import operator
from coalwatch.config import Settings
from coalwatch.errors import Invalid
from coalwatch.storage.partitioning import PARTITIONED, month_start


def add_parser(commands: Any) -> None:
    parts = commands.add_parser(
        "partitions", help="raw records by month on PostgreSQL: partitions and archives"
    )
    actions = parts.add_subparsers(dest="partitions_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the partitions (size, rows) and the archives")
    listing.set_defaults(handler=cmd_list)
    ensure = actions.add_parser(
        "ensure", help="make this month's and the next months' partitions now"
    )
    ensure.set_defaults(handler=cmd_ensure)
    archive = actions.add_parser(
        "archive",
        help="archive one past month now: detach it, write the archive file, drop it",
    )
    archive.add_argument("month", metavar="YYYY-MM", help="the month (UTC)")
    archive.add_argument(
        "--table", choices=sorted(PARTITIONED), default="records", help="default: records"
    )
    archive.set_defaults(handler=cmd_archive)
    retention = actions.add_parser(
        "retention", help="archive every month older than the retention now (as the job does)"
    )
    retention.set_defaults(handler=cmd_retention)


def _month(text: str) -> datetime:
    try:
        year, month = (int(part) for part in text.split("-"))
    except ValueError as exc:
        raise Invalid(f"{text!r} is not a month YYYY-MM") from exc
    if not 1 <= month <= 12:
        raise Invalid(f"{text!r} is not a month YYYY-MM")
    return month_start(year, month)


def _mb(size: int) -> str:
    return f"{size / 1048576:,.1f} MB"


def _sessions(settings: Settings) -> Any:
    from coalwatch.storage.migrate import current_engine
    from coalwatch.storage.session import make_sessionmaker

    return make_sessionmaker(current_engine(settings.resolved_database_url))


def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.partitions import repository, service
    from coalwatch.storage.session import transaction

    with transaction(_sessions(settings)) as session:
        if service.partitioned(session):
            for part in repository.parts(session):
                month = "default" if part.month is None else f"{part.month:%Y-%m}"
                state = "attached" if part.attached else "DETACHED (archive interrupted)"
                print(
                    f"{part.table:<20} {month:<8} ~{part.rows_estimate:>12,} rows "
                    f"{_mb(part.bytes):>12}  {state}"
                )
        else:
            print("SQLite: raw records are one table each, not partitioned")
        for row in repository.archives(session):
            print(
                f"archived {row.table_name:<20} {row.month_start:%Y-%m} {row.rows:>12,} rows "
                f"{_mb(row.size_bytes):>10}  {row.file_name}  sha256 {row.sha256}"
            )


def cmd_ensure(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.partitions import service
    from coalwatch.storage.session import transaction

    with transaction(_sessions(settings)) as session:
        made = service.ensure(session, datetime.now(UTC), settings.raw_partitions_ahead)
    print("\n".join(f"made {name}" for name in made) or "every partition is there")


def cmd_archive(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.partitions import service

    policy = service.Policy.from_settings(settings)
    row = service.archive_month(
        _sessions(settings),
        policy,
        args.table,
        _month(args.month),
        operator().name,
        datetime.now(UTC),
    )
    print(
        f"archived {row.table_name} {row.month_start:%Y-%m}: {row.rows:,} rows, "
        f"{row.batches:,} signed uploads, {_mb(row.size_bytes)} in "
        f"{policy.directory / row.file_name} (sha256 {row.sha256}); the partition is dropped"
    )


def cmd_retention(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.partitions import service

    policy = service.Policy.from_settings(settings)
    rows = service.run_retention(_sessions(settings), policy, datetime.now(UTC), operator().name)
    for row in rows:
        print(f"archived {row.table_name} {row.month_start:%Y-%m} to {row.file_name}")
    if not rows:
        print("nothing is older than the retention")
