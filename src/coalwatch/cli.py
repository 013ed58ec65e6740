"""The ``coalwatch`` command (contract.md, "Command line")."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from coalwatch.audit.cli import add_parser as add_audit
from coalwatch.backups.cli import add_parser as add_backup
from coalwatch.config import Settings, load_settings
from coalwatch.errors import CoalwatchError
from coalwatch.integrity.cli import add_parser as add_verify
from coalwatch.sim.cli import add_parser as add_sim
from coalwatch.station.cli import add_parser as add_station

log = logging.getLogger("coalwatch")


class CommandError(Exception):
    """A command could not do its work; the message says why (exit status 1)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _engine(settings: Settings, require_schema: bool = True) -> object:
    from coalwatch.storage import migrate
    from coalwatch.storage.session import make_engine

    engine = make_engine(settings.resolved_database_url)
    if require_schema and not migrate.is_up_to_date(engine):
        raise CommandError(
            f"the database at {engine.url.render_as_string(hide_password=True)} is not at the "
            "current schema: run `coalwatch db upgrade` first"
        )
    return engine


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.storage import migrate

    engine = _engine(settings, require_schema=False)
    migrate.upgrade(engine)  # type: ignore[arg-type]
    print(f"database is at revision {migrate.current_revision(engine)}")  # type: ignore[arg-type]


def cmd_center_keygen(args: argparse.Namespace, settings: Settings) -> None:
    """This center's Ed25519 key for forwarding to its upstream (never overwritten)."""
    import os

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
    import uvicorn

    from coalwatch.web.app import create_app

    certfile = args.certfile or settings.tls_certfile
    keyfile = args.keyfile or settings.tls_keyfile
    if keyfile is not None and certfile is None:
        raise CommandError("--keyfile needs --certfile (the server certificate, PEM)")
    for name, path in (("certificate", certfile), ("key", keyfile)):
        if path is not None and not os.access(path, os.R_OK):
            raise CommandError(f"the TLS {name} file {path} cannot be read")
    settings = settings.model_copy(update={"tls_certfile": certfile, "tls_keyfile": keyfile})
    _engine(settings)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        ssl_certfile=None if certfile is None else str(certfile),
        ssl_keyfile=None if keyfile is None else str(keyfile),
    )


def cmd_admin_create(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.auth.service import create_admin
    from coalwatch.storage.session import make_sessionmaker, transaction
    from coalwatch.users.service import check_password_rules

    if not args.password_stdin:
        raise CommandError("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    # the rules every password of the UI follows (length, letters and digits, not the name)
    check_password_rules(password, args.username.strip())
    engine = _engine(settings)
    with transaction(make_sessionmaker(engine)) as session:  # type: ignore[arg-type]
        create_admin(session, args.username, password, _now())
    print(f"administrator {args.username!r} created")


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.auth.limits import DEFAULT_THIRD_PARTY_PER_MIN
    from coalwatch.auth.service import create_token
    from coalwatch.storage.session import make_sessionmaker, transaction

    engine = _engine(settings)
    with transaction(make_sessionmaker(engine)) as session:  # type: ignore[arg-type]
        token = create_token(
            session,
            args.name,
            args.scope,
            args.write,
            _now(),
            third_party=args.third_party,
            rate_limit_per_min=args.rate_limit,
        )
    scope = f"org {args.scope}" if args.scope else "the whole tree"
    kind = "third-party read-only" if args.third_party else "write" if args.write else "read"
    limit = f", at most {args.rate_limit or DEFAULT_THIRD_PARTY_PER_MIN} requests per minute"
    limited = args.third_party or args.rate_limit is not None
    print(f"{kind} token {args.name!r} for {scope}{limit if limited else ''}:")
    print(token)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.demo.run import run_demo

    run_demo(settings, port=args.port, mines=args.mines, host=args.host)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coalwatch", description="Coal production monitoring (煤炭产量监控系统)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the monitoring center (API + jobs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--certfile", type=Path, help="serve over HTTPS with this certificate (PEM, with chain)"
    )
    serve.add_argument("--keyfile", type=Path, help="the certificate's private key (PEM)")
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser("demo", help="run a self-contained demo on SQLite under ./var/")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--mines", type=int, default=3, help="number of demo mines (1-50)")
    demo.set_defaults(handler=cmd_demo)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply the migrations (Alembic)")
    upgrade.set_defaults(handler=cmd_db_upgrade)

    admin = commands.add_parser("admin", help="administrators")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create_admin = admin_commands.add_parser("create", help="create an administrator")
    create_admin.add_argument("--username", required=True)
    create_admin.add_argument("--password-stdin", action="store_true", help="read the password")
    create_admin.set_defaults(handler=cmd_admin_create)

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create_token = token_commands.add_parser(
        "create", help="print a new API token alone on the last line"
    )
    create_token.add_argument("--name", required=True)
    create_token.add_argument("--scope", metavar="ORG_CODE", help="limit to an org subtree")
    create_token.add_argument("--write", action="store_true", help="allow changes")
    create_token.add_argument(
        "--third-party",
        action="store_true",
        help="for a finance, tax or safety department: read-only, rate-limited (60/min default)",
    )
    create_token.add_argument(
        "--rate-limit", type=int, metavar="PER_MINUTE", help="requests per minute at most"
    )
    create_token.set_defaults(handler=cmd_token_create)

    center = commands.add_parser("center", help="this center toward its upstream center")
    center_commands = center.add_subparsers(dest="center_command", required=True, metavar="ACTION")
    center_keygen = center_commands.add_parser(
        "keygen", help="write a new Ed25519 key; print its public key alone on the last line"
    )
    center_keygen.add_argument("--key-file", required=True, metavar="PATH")
    center_keygen.set_defaults(handler=cmd_center_keygen)

    add_station(commands)
    add_sim(commands)
    add_audit(commands)
    add_backup(commands)
    add_verify(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"COALWATCH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        print(f"coalwatch: bad configuration: {problems}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    handler: Callable[[argparse.Namespace, Settings], None] = args.handler
    try:
        handler(args, settings)
    except (CommandError, CoalwatchError) as exc:
        print(f"coalwatch: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
