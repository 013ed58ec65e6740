"""``coalwatch backup create | list | restore | verify | prune`` (备份与恢复)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coalwatch.auth.principal import operator
from coalwatch.backups.schemas import BackupOut, Figures
from coalwatch.config import Settings
from coalwatch.errors import CoalwatchError


class RestoreNotVerified(CoalwatchError):
    status = 500
    code = "restore_not_verified"


def add_parser(commands: Any) -> None:
    backup = commands.add_parser("backup", help="backups of the center's database (备份)")
    actions = backup.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a backup now (SQLite or PostgreSQL)")
    create.set_defaults(handler=cmd_create)
    listing = actions.add_parser("list", help="the backup ledger and the backup directory")
    listing.set_defaults(handler=cmd_list)
    restore = actions.add_parser(
        "restore",
        help="restore a backup into the configured database (stop the center first); "
        "prints the restored figures and checks them against the backup's",
    )
    restore.add_argument("file", type=Path, metavar="FILE", help="the backup (or its .json)")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a database that holds data (it is backed up first)",
    )
    restore.set_defaults(handler=cmd_restore)
    verify = actions.add_parser("verify", help="check a backup's checksum and content")
    verify.add_argument("file", type=Path, metavar="FILE", help="the backup (or its .json)")
    verify.set_defaults(handler=cmd_verify)
    prune = actions.add_parser(
        "prune", help="delete backups older than the retention (never the newest)"
    )
    prune.set_defaults(handler=cmd_prune)


def _by() -> str:
    return operator().name


def _now() -> datetime:
    return datetime.now(UTC)


def _mb(size: int) -> str:
    return f"{size / 1048576:,.2f} MB"


def _print_figures(figures: Figures) -> None:
    print(f"figures at {figures.at.isoformat()}:")
    for code, mine in figures.mines.items():
        for name, totals in (
            ("yesterday", mine.yesterday),
            ("day", mine.day),
            ("month", mine.month),
            ("year", mine.year),
        ):
            print(
                f"  {code:<12} {name:<9} gross {totals.gross_t:>14} t  raw {totals.raw_t:>14} t"
                f"  manual {totals.manual_t:>10} t"
            )
    print(
        f"  rows {sum(figures.rows.values())} in {len(figures.rows)} tables, alarms "
        f"{figures.rows.get('alarms', 0)}, audit entries {figures.audit_entries}, "
        f"audit head {figures.audit_head[:16] or '-'}"
    )


def cmd_create(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.backups import service

    manifest = service.create(
        settings.resolved_database_url,
        service.Policy.from_settings(settings),
        "manual",
        _by(),
        _now(),
    )
    directory = service.Policy.from_settings(settings).directory
    months = sum(m.size_bytes for m in manifest.raw_months)
    print(f"backup {directory / manifest.file_name} ({_mb(manifest.size_bytes)})")
    if manifest.raw_months:
        print(f"  and {len(manifest.raw_months)} month files it names ({_mb(months)})")
    print(f"sha256 {manifest.sha256}")
    _print_figures(manifest.figures)


def _row(item: BackupOut) -> str:
    return (
        f"{item.created_at:%Y-%m-%d %H:%M:%S}Z  {item.status:<10} {item.trigger:<16} "
        f"{_mb(item.size_bytes):>12}  {item.sha256[:16]}  {item.file_name}"
    )


def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.auth.principal import OPERATOR
    from coalwatch.backups import service
    from coalwatch.storage import migrate
    from coalwatch.storage.session import make_engine, make_sessionmaker, transaction

    directory = service.Policy.from_settings(settings).directory
    engine = make_engine(settings.resolved_database_url)
    try:
        if migrate.is_up_to_date(engine):
            with transaction(make_sessionmaker(engine)) as session:
                items = service.list_backups(session, OPERATOR, directory)
        else:
            print("the database is not at the current schema: the directory's manifests only")
            items = service.list_directory(directory)
    finally:
        engine.dispose()
    print(f"backups in {directory}:")
    for item in items:
        print(_row(item))
    if not items:
        print("(none)")


def cmd_restore(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.backups import service

    result = service.restore(
        settings.resolved_database_url,
        args.file,
        service.Policy.from_settings(settings),
        _by(),
        _now(),
        force=args.force,
    )
    if result.pre_restore is not None:
        print(f"the replaced database was backed up first: {result.pre_restore.file_name}")
    print(f"restored {result.manifest.file_name} into {result.target}")
    _print_figures(result.figures)
    if not result.verified:
        for difference in result.differences[:20]:
            print(
                f"  DIFFERS {difference.what}: {difference.found} (backup: {difference.expected})"
            )
        raise RestoreNotVerified(
            f"the restored figures differ from the backup's in {len(result.differences)} places"
        )
    digest = result.manifest.figures_sha256[:16]
    print(f"verified: the same figures as when the backup was made ({digest})")


def cmd_verify(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.backups import service

    manifest, checked = service.verify(args.file)
    print(f"{manifest.file_name}: made {manifest.created_at.isoformat()} ({manifest.trigger})")
    for line in checked:
        print(f"  {line}")


def cmd_prune(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.backups import service
    from coalwatch.storage.session import make_engine, make_sessionmaker, transaction

    policy = service.Policy.from_settings(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            result = service.prune(session, policy, _by(), _now())
    finally:
        engine.dispose()
    for name in result.pruned:
        print(f"pruned {name}")
    print(
        f"{len(result.pruned)} pruned, {len(result.kept)} kept "
        f"(retention {policy.retention.days} days; the newest is always kept)"
    )
