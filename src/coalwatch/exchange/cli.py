"""``coalwatch exchange``: the collection files by hand (write, push, ledger), and what
the jobs process does with them on its own when ``COALWATCH_EXCHANGE_DIR`` is set."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.config import Settings
from coalwatch.errors import CoalwatchError


def add_parser(commands: Any) -> None:
    exchange = commands.add_parser(
        "exchange",
        help="collection files for the province's platform (write, push over FTP, ledger)",
        description="Collection files 数据采集文件 per mine in the layout of "
        "docs/exchange-files.en.md, written into COALWATCH_EXCHANGE_DIR and pushed to "
        "COALWATCH_EXCHANGE_FTP_URL. The center's jobs do both on their own; these "
        "commands do them now.",
    )
    actions = exchange.add_subparsers(dest="exchange_command", required=True, metavar="ACTION")
    write = actions.add_parser("write", help="write the files due now (then push them)")
    write.add_argument("--no-push", action="store_true", help="write only; leave them queued")
    write.set_defaults(handler=cmd_write)
    push = actions.add_parser("push", help="send the queued files to the FTP server")
    push.set_defaults(handler=cmd_push)
    ledger = actions.add_parser(
        "ledger", help="list the files written and when the server took them"
    )
    ledger.add_argument("--pending", action="store_true", help="only the files still queued")
    ledger.set_defaults(handler=cmd_ledger)
    read = actions.add_parser(
        "import",
        help="read another vendor's collection files back as records of virtual stations",
        description="Fetches new files from COALWATCH_EXCHANGE_IMPORT_FTP_URL (when set) into "
        "the directory, then reads every file not read yet: parameter files define points, "
        "real-time files bring readings, accounted as the records of the mine's virtual "
        "station <mine>.virtual. A file of a mine not registered here waits; a malformed one "
        "is refused once, with its reason.",
    )
    read.add_argument(
        "--dir", type=Path, help="the directory (default: COALWATCH_EXCHANGE_IMPORT_DIR)"
    )
    read.set_defaults(handler=cmd_import)
    role = actions.add_parser(
        "reader-role",
        help="create a PostgreSQL login role that may read the exchange views only",
        description="Creates (or updates) a login role that may read the versioned views "
        "exchange_v1_* (points, real-time, hourly and daily totals, statistics, alarms) "
        "of the center's schema and nothing else; its transactions are read-only. "
        "PostgreSQL only; run it as the database's owner.",
    )
    role.add_argument("--name", required=True, help="the role (lower-case letters, digits, _)")
    role.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else asked twice on a terminal)",
    )
    role.set_defaults(handler=cmd_reader_role)


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    from coalwatch.storage import migrate
    from coalwatch.storage.session import make_engine, make_sessionmaker

    engine = make_engine(settings.resolved_database_url)
    try:
        if not migrate.is_up_to_date(engine):
            raise CoalwatchError(
                "the database is not at the current schema: run `coalwatch db upgrade`"
            )
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _directory(settings: Settings) -> Any:
    if settings.exchange_dir is None:
        raise CoalwatchError("COALWATCH_EXCHANGE_DIR is not set: where should the files go?")
    return settings.exchange_dir


def cmd_write(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.exchange.service import write_due, writer_of

    directory = _directory(settings)
    with _sessions(settings) as sessions:
        written = write_due(sessions, writer_of(settings, directory), datetime.now(UTC))
    for file in written:
        print(f"wrote {directory / file.name}")
    print(f"{len(written)} file(s) written")
    if not args.no_push:
        cmd_push(args, settings)


def cmd_push(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.exchange.delivery import push_pending
    from coalwatch.exchange.service import target_of

    directory = _directory(settings)
    target = target_of(settings)
    if target is None:
        print("no server configured (COALWATCH_EXCHANGE_FTP_URL): the files stay in the directory")
        return
    with _sessions(settings) as sessions:
        pushed = push_pending(
            sessions, target, directory, lambda: datetime.now(UTC), settings.exchange_ftp_retries
        )
    print(f"{pushed.sent} file(s) sent to {target}")
    if pushed.error is not None:
        raise CoalwatchError(f"{target}: {pushed.error}; the other files stay queued")


def cmd_ledger(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.exchange import repository

    with _sessions(settings) as sessions, sessions() as session:
        rows = repository.pending(session, 10_000) if args.pending else repository.ledger(session)
        for row in rows:
            sent = row.sent_at.isoformat() if row.sent_at else "queued"
            note = row.server_ack or row.last_error or ""
            print(f"{row.name}\t{row.written_at.isoformat()}\t{sent}\t{note}")


def cmd_import(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.exchange.service import fetch_and_import, reader_of, source_of

    directory = args.dir or settings.exchange_import_dir
    if directory is None:
        raise CoalwatchError("give --dir or set COALWATCH_EXCHANGE_IMPORT_DIR")
    if not Path(directory).is_dir() and not settings.exchange_import_ftp_url:
        raise CoalwatchError(f"{directory} is not a directory")
    with _sessions(settings) as sessions:
        outcomes = fetch_and_import(
            sessions, reader_of(settings), Path(directory), source_of(settings), datetime.now(UTC)
        )
    refused = 0
    for outcome in outcomes:
        if outcome.error is not None:
            refused += 1
            print(f"refused {outcome.name}: {outcome.error}")
        elif outcome.later is not None:
            print(f"waits   {outcome.name}: {outcome.later}")
        else:
            print(f"read    {outcome.name}: {outcome.records} record(s)")
    if refused:
        raise CoalwatchError(f"{refused} file(s) refused")


def _password(from_stdin: bool) -> str:
    import getpass
    import sys

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CoalwatchError("no terminal to ask the password on: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CoalwatchError("the two passwords differ")
    return first


def cmd_reader_role(args: argparse.Namespace, settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    from coalwatch.exchange.views import VIEWS, create_reader_role

    password = _password(args.password_stdin)
    with _sessions(settings) as sessions:
        engine = sessions.kw["bind"]
        schema = create_reader_role(engine, args.name, password)
        url = make_url(settings.resolved_database_url)
    print(f"role {args.name} may read {', '.join(VIEWS)} in schema {schema}, nothing else")
    print(
        f"connect: psql 'host={url.host or 'localhost'} port={url.port or 5432} "
        f"dbname={url.database} user={args.name}' -c 'SELECT * FROM {schema}.exchange_v1_alarms'"
    )
