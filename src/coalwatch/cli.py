"""The ``coalwatch`` command; its commands and options are a stable surface (README,
"The command line"): add freely, rename or remove none without a migration note."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, OperationalError

from coalwatch import __version__
from coalwatch.audit.cli import add_parser as add_audit
from coalwatch.auth.cli import add_parser as add_accounts
from coalwatch.backups.cli import add_parser as add_backup
from coalwatch.clitypes import port
from coalwatch.config import DEFAULT_VAR_DIR, Settings, load_settings
from coalwatch.errors import CoalwatchError
from coalwatch.exchange.cli import add_parser as add_exchange
from coalwatch.integrity.cli import add_parser as add_verify
from coalwatch.partitions.cli import add_parser as add_partitions
from coalwatch.sim.cli import add_parser as add_sim
from coalwatch.station.cli import add_parser as add_station
from coalwatch.web.secret import SECRET_FILE

log = logging.getLogger("coalwatch")


class CommandError(Exception):
    """A command could not do its work; the message says why (exit status 1)."""


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.storage import migrate
    from coalwatch.storage.session import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        migrate.upgrade(engine)
        print(f"database is at revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


def cmd_center_keygen(args: argparse.Namespace, settings: Settings) -> None:
    """This center's Ed25519 key for forwarding to its upstream (never overwritten)."""
    from coalwatch.wire.signing import generate_private_key, private_key_pem, public_key_b64

    key = generate_private_key()
    try:
        fd = os.open(args.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"{args.key_file} exists; not overwritten") from None
    except OSError as exc:
        raise CommandError(f"cannot create {args.key_file}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
        handle.flush()
        os.fsync(handle.fileno())
    print(f"private key written to {args.key_file} (mode 0600)")
    print("register this public key at the upstream center (POST /api/v1/centers):")
    print(public_key_b64(key))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    certfile = args.certfile or settings.tls_certfile
    keyfile = args.keyfile or settings.tls_keyfile
    if keyfile is not None and certfile is None:
        raise CommandError("--keyfile needs --certfile (the server certificate, PEM)")
    for name, path in (("certificate", certfile), ("key", keyfile)):
        if path is not None and not os.access(path, os.R_OK):
            raise CommandError(f"the TLS {name} file {path} cannot be read")
    if args.workers > 1 and not _on_postgresql(settings):
        raise CommandError(
            f"--workers {args.workers} needs PostgreSQL (COALWATCH_DATABASE_URL="
            "postgresql+psycopg://...): SQLite writes one transaction at a time, and live "
            "events and rate limits are shared through PostgreSQL; run one process on SQLite"
        )
    settings = settings.model_copy(
        update={
            "tls_certfile": certfile,
            "tls_keyfile": keyfile,
            "jobs": settings.jobs and not args.no_jobs,
        }
    )
    _check_exchange_files(settings)
    from coalwatch.storage.migrate import current_engine

    current_engine(settings.resolved_database_url).dispose()
    if args.workers > 1:  # the workers import the app; this process only supervises
        _serve_workers(args, settings)
        return
    import uvicorn

    from coalwatch.web.app import create_app, settle_heap

    app = create_app(settings)
    settle_heap()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        ssl_certfile=None if certfile is None else str(certfile),
        ssl_keyfile=None if keyfile is None else str(keyfile),
    )


def _on_postgresql(settings: Settings) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).get_backend_name() == "postgresql"


def _serve_workers(args: argparse.Namespace, settings: Settings) -> None:
    """``args.workers`` web processes (uvicorn's, sharing the listening socket) and,
    unless the jobs run elsewhere, one ``coalwatch jobs`` process beside them."""
    import subprocess

    import uvicorn

    from coalwatch.web.secret import session_secret

    session_secret(settings)  # made once here, not raced for by the workers
    # the workers read their settings from the environment, as this process did
    os.environ["COALWATCH_JOBS"] = "false"
    certfile, keyfile = settings.tls_certfile, settings.tls_keyfile
    for name, value in (("TLS_CERTFILE", certfile), ("TLS_KEYFILE", keyfile)):
        if value is not None:
            os.environ[f"COALWATCH_{name}"] = str(value)
    jobs = None
    if settings.jobs:
        jobs = subprocess.Popen([sys.executable, "-m", "coalwatch.cli", "jobs"])
    try:
        uvicorn.run(
            "coalwatch.web.app:app_from_environment",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
            ssl_certfile=None if certfile is None else str(certfile),
            ssl_keyfile=None if keyfile is None else str(keyfile),
            # a worker is given this long to start (import and migrate-check) or answer a
            # ping before it is replaced: the default 5 s is short on a loaded machine
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
    finally:
        if jobs is not None:
            jobs.terminate()
            try:
                jobs.wait(timeout=40)
            except subprocess.TimeoutExpired:
                jobs.kill()


#: seconds a worker of ``serve --workers`` may take to start or to answer a ping
WORKER_HEALTHCHECK_S = 60


def cmd_jobs(args: argparse.Namespace, settings: Settings) -> None:
    import signal
    import threading

    from coalwatch.storage.migrate import current_engine
    from coalwatch.web.app import run_jobs, settle_heap

    current_engine(settings.resolved_database_url).dispose()
    settle_heap()
    stop = threading.Event()

    def stopping(_signal: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    run_jobs(settings.model_copy(update={"jobs": True}), stop)


def _check_exchange_files(settings: Settings) -> None:
    """A province's layout or a gateway mapping with a mistake stops the start with the
    reason, before anything runs."""
    from coalwatch.exchange.gateway import load_mappings
    from coalwatch.exchange.layout import load_layout

    if settings.exchange_dir is not None or settings.exchange_import_dir is not None:
        load_layout(settings.exchange_layout_file)
    if settings.mqtt_broker and settings.mqtt_gateways_file is not None:
        load_mappings(settings.mqtt_gateways_file)


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError("a number of processes from 1 to 64")
    return int(text)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.demo.run import run_demo

    run_demo(settings, port=args.port, mines=args.mines, host=args.host)


_DATABASE_DEFAULT = f"default: SQLite at {DEFAULT_VAR_DIR.as_posix()}/coalwatch.db"


def _configuration_epilog() -> str:
    """The settings an operator meets first, with their defaults (from ``Settings``)."""
    fields = Settings.model_fields
    return f"""\
configuration:
  The center reads environment variables COALWATCH_<SETTING>, and a TOML file
  only when COALWATCH_CONFIG names one: its keys are the settings in lower case
  (database_url = "...", timezone = "..."); environment variables win over it.
  A station reads its own TOML file instead (station run --config FILE).

  COALWATCH_DATABASE_URL  SQLAlchemy URL (default: SQLite at
                          {DEFAULT_VAR_DIR.as_posix()}/coalwatch.db under COALWATCH_VAR_DIR);
                          PostgreSQL: postgresql+psycopg://USER:PASSWORD@HOST:5432/DB
  COALWATCH_TIMEZONE      the deployment's time zone (default: {fields["timezone"].default})
  COALWATCH_VAR_DIR       SQLite, secret key, backups, snapshots
                          (default: {fields["var_dir"].default})
  COALWATCH_SECRET_KEY    signs session cookies (default: generated once, kept in
                          VAR_DIR/{SECRET_FILE}; set the same one on every center process)
  COALWATCH_LOG_LEVEL     DEBUG, INFO, WARNING, ERROR (default: {fields["log_level"].default})
  COALWATCH_CONFIG        the TOML file (default: none)

  Every setting, with its default: docs/operator-guide.en.md, "Configuration".
"""


class HelpFormatter(argparse.HelpFormatter):
    """Indented lines of descriptions and epilogs as written, the other lines filled as
    paragraphs; each option's default after its help."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                lines.extend(
                    textwrap.wrap(
                        " ".join(paragraph), width, initial_indent=indent, subsequent_indent=indent
                    )
                )
                paragraph.clear()

        for line in text.splitlines():
            if line and not line[0].isspace():
                paragraph.append(line.strip())
                continue
            flush()
            lines.append(indent + line if line else "")
        flush()
        return "\n".join(lines)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        # a flag is off unless given, and None means "not given": neither is a default
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """Every (sub)command of ``coalwatch`` formats its help the same way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="coalwatch",
        description="Coal production monitoring (煤炭产量监控系统): the monitoring center, "
        "the mine-side station, simulators and the demo.",
        epilog=_configuration_epilog(),
    )
    parser.add_argument(
        "--version", action="version", version=f"coalwatch {__version__}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the monitoring center (web UI, API, jobs)",
        description=f"Run the monitoring center on the database of COALWATCH_DATABASE_URL "
        f"({_DATABASE_DEFAULT}), which must be at the current schema (coalwatch db upgrade). "
        "The other settings: coalwatch --help.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=port, default=8000, help="TCP port to listen on")
    serve.add_argument(
        "--certfile",
        type=Path,
        help="serve over HTTPS with this certificate (PEM, with chain; "
        "default: COALWATCH_TLS_CERTFILE, else plain HTTP)",
    )
    serve.add_argument(
        "--keyfile",
        type=Path,
        help="the certificate's private key (PEM; default: COALWATCH_TLS_KEYFILE, "
        "else inside the certificate file)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="web processes sharing the port (PostgreSQL only for more than 1); the "
        "background jobs then run in one `coalwatch jobs` process beside them",
    )
    serve.add_argument(
        "--no-jobs",
        action="store_true",
        help="do not run the background jobs (timed rules, reports, forwarding, video, "
        "backups, exchange files): `coalwatch jobs` runs them",
    )
    serve.set_defaults(handler=cmd_serve)

    jobs = commands.add_parser(
        "jobs",
        help="run the background jobs alone (beside `coalwatch serve --no-jobs`)",
        description="Run the center's background jobs (timed alarm rules, notification "
        "delivery, daily reports, upstream forwarding, camera polling, backups, integrity "
        "checkpoints, exchange files) without a web server, until stopped. With several "
        "processes on one database the jobs lease decides which one runs them "
        "(GET /api/v1/jobs/leader).",
    )
    jobs.set_defaults(handler=cmd_jobs)

    demo = commands.add_parser(
        "demo", help="run a self-contained demo region on SQLite under ./var/"
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--port", type=port, default=8000, help="TCP port to listen on (0: any free)")
    demo.add_argument("--mines", type=int, default=3, help="number of demo mines (1-50)")
    demo.set_defaults(handler=cmd_demo)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser(
        "upgrade",
        help="create the database or apply new migrations (Alembic)",
        description="Create the schema of the database of COALWATCH_DATABASE_URL "
        f"({_DATABASE_DEFAULT}), or bring it to the current one. Run it after every upgrade.",
    )
    upgrade.set_defaults(handler=cmd_db_upgrade)

    add_accounts(commands)

    center = commands.add_parser("center", help="this center toward its upstream center")
    center_commands = center.add_subparsers(dest="center_command", required=True, metavar="ACTION")
    center_keygen = center_commands.add_parser(
        "keygen", help="write a new Ed25519 key; print its public key alone on the last line"
    )
    center_keygen.add_argument(
        "--key-file",
        required=True,
        metavar="PATH",
        help="where to write the private key (mode 0600; an existing file is not overwritten)",
    )
    center_keygen.set_defaults(handler=cmd_center_keygen)

    add_station(commands)
    add_sim(commands)
    add_audit(commands)
    add_backup(commands)
    add_verify(commands)
    add_exchange(commands)
    add_partitions(commands)
    return parser


def _quiet_libraries() -> None:
    """Libraries that narrate their work at INFO speak up only for warnings."""
    for name in ("alembic", "weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _config_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"COALWATCH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
    # the TOML file named by COALWATCH_CONFIG is missing, unreadable or not TOML
    return f"COALWATCH_CONFIG={os.environ.get('COALWATCH_CONFIG')}: {exc}"


def _both_languages(exc: CoalwatchError) -> str:
    """A refusal as the services word it (Chinese), and in English where it has a
    translation: an operator at the console reads either."""
    from coalwatch.web.i18n import translations

    english = exc.translated(translations("en").gettext)
    return exc.message if english == exc.message else f"{exc.message} ({english})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except (ValidationError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"coalwatch: bad configuration: {_config_problem(exc)}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _quiet_libraries()
    handler: Callable[[argparse.Namespace, Settings], None] = args.handler
    try:
        handler(args, settings)
    except CoalwatchError as exc:
        print(f"coalwatch: {_both_languages(exc)}", file=sys.stderr)
        return 1
    except CommandError as exc:
        print(f"coalwatch: {exc}", file=sys.stderr)
        return 1
    except (ArgumentError, OperationalError) as exc:
        # a malformed COALWATCH_DATABASE_URL, or a database that cannot be reached
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"coalwatch: cannot use the database: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
