"""``coalwatch admin create | unlock | reset-password`` and ``coalwatch token create | list |
revoke``: accounts and API tokens from the command line.

Whoever runs these commands owns the database, so they act with full rights; what they
change goes to the audit log under ``operator:<system account>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from coalwatch.auth.limits import DEFAULT_THIRD_PARTY_PER_MIN, MAX_PER_MIN
from coalwatch.auth.principal import operator
from coalwatch.auth.schemas import TokenOut
from coalwatch.config import Settings
from coalwatch.errors import Invalid

PASSWORD_RULES = (
    "The password follows the rules of the web UI: at least 10 characters, letters and "
    "digits, not containing the account name."
)
WITHOUT_STDIN = (
    "Without --password-stdin the password is asked for twice on the terminal (not echoed); "
    "when standard input is not a terminal the command stops with an error."
)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    from coalwatch.storage.migrate import current_engine
    from coalwatch.storage.session import make_sessionmaker, transaction

    engine = current_engine(settings.resolved_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def read_password(args: argparse.Namespace) -> str:
    """The new password: one line of standard input, or asked twice on a terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise Invalid(
            "no password: give it on standard input with --password-stdin, "
            "or run the command on a terminal to be asked for it"
        )
    try:
        first = getpass.getpass("new password: ")
        again = getpass.getpass("the same again: ")
    except EOFError:
        raise Invalid("no password given; nothing changed") from None
    if first != again:
        raise Invalid("the two passwords differ; nothing changed")
    return first


def cmd_admin_create(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.auth.service import create_admin
    from coalwatch.users.service import check_password_rules

    password = read_password(args)
    check_password_rules(password, args.username.strip())
    with _session(settings) as session:
        create_admin(session, args.username, password, _now())
    print(f"administrator {args.username!r} created")


def cmd_admin_unlock(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.users.service import unlock

    with _session(settings) as session:
        was_locked = unlock(session, operator(), args.username, _now())
    state = "was locked" if was_locked else "was not locked"
    print(f"user {args.username!r} unlocked ({state}; failed sign-ins forgotten)")


def cmd_admin_reset_password(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.users.service import reset_password

    password = read_password(args)
    with _session(settings) as session:
        reset_password(session, operator(), args.username, password, _now())
    print(
        f"password of {args.username!r} reset: they must change it at their next sign-in; "
        "their open sessions have ended"
    )


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.auth.service import create_token

    with _session(settings) as session:
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


def _when(at: datetime | None, settings: Settings) -> str:
    return "-" if at is None else at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")


def token_lines(tokens: list[TokenOut], settings: Settings) -> list[str]:
    """The table ``token list`` prints (times in the deployment's time zone)."""
    head = ("ID", "NAME", "SCOPE", "ACCESS", f"CREATED ({settings.timezone})", "REVOKED")
    rows = [head]
    for token in tokens:
        access = token.access
        if token.rate_limit_per_min is not None:
            access += f" ({token.rate_limit_per_min}/min)"
        rows.append(
            (
                str(token.id),
                token.name,
                token.scope or "whole tree",
                access,
                _when(token.created_at, settings),
                "revoked " + _when(token.revoked_at, settings) if token.revoked_at else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.auth.service import list_tokens

    with _session(settings) as session:
        tokens = list_tokens(session, operator())
    if not tokens:
        print("no API tokens (create one with `coalwatch token create`)")
        return
    print("\n".join(token_lines(tokens, settings)))
    print("(a token's secret is shown once, when it is created; last use is not recorded)")


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.auth.service import revoke_token

    with _session(settings) as session:
        token = revoke_token(session, operator(), args.token, _now())
    print(f"token {token.name!r} (id {token.id}) revoked: it is refused from now on")


def _add_password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", required=True, help="the account name")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )


def add_parser(commands: Any) -> None:
    """Add ``admin`` and ``token`` to the ``coalwatch`` command's subparsers."""
    admin = commands.add_parser("admin", help="administrators and user accounts")
    actions = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create an administrator (all permissions)",
        description=f"Create an administrator. {PASSWORD_RULES} {WITHOUT_STDIN}",
    )
    _add_password_options(create)
    create.set_defaults(handler=cmd_admin_create)

    unlock = actions.add_parser(
        "unlock",
        help="lift a lock-out after too many failed sign-ins",
        description="Lift a user's lock-out and forget their failed sign-ins (audited).",
    )
    unlock.add_argument("--username", required=True, help="the account name")
    unlock.set_defaults(handler=cmd_admin_unlock)

    reset = actions.add_parser(
        "reset-password",
        help="set a new password the user must change at the next sign-in",
        description=(
            "Set a user's password (an administrator's too). The user must change it at "
            "the next sign-in, their open sessions end and a lock-out is lifted (audited). "
            f"{PASSWORD_RULES} {WITHOUT_STDIN}"
        ),
    )
    _add_password_options(reset)
    reset.set_defaults(handler=cmd_admin_reset_password)

    token = commands.add_parser("token", help="API tokens for scripts and third parties")
    token_actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create_token = token_actions.add_parser(
        "create", help="print a new API token alone on the last line"
    )
    create_token.add_argument(
        "--name", required=True, help="who or what uses it (shown in the audit log)"
    )
    create_token.add_argument(
        "--scope", metavar="ORG_CODE", help="limit to an org subtree (default: the whole tree)"
    )
    create_token.add_argument(
        "--write", action="store_true", help="allow changes (default: read only)"
    )
    create_token.add_argument(
        "--third-party",
        action="store_true",
        help="for a finance, tax or safety department: read-only, rate-limited "
        f"({DEFAULT_THIRD_PARTY_PER_MIN}/min unless --rate-limit)",
    )
    create_token.add_argument(
        "--rate-limit",
        type=int,
        metavar="PER_MINUTE",
        help=f"requests per minute at most, 1 to {MAX_PER_MIN} (default: no limit)",
    )
    create_token.set_defaults(handler=cmd_token_create)

    listing = token_actions.add_parser(
        "list", help="every token: id, name, scope, access, created, revoked (never the secret)"
    )
    listing.set_defaults(handler=cmd_token_list)

    revoke = token_actions.add_parser("revoke", help="refuse a token from now on (audited)")
    revoke.add_argument(
        "token", metavar="NAME|ID", help="the token's name, or its id from `token list`"
    )
    revoke.set_defaults(handler=cmd_token_revoke)
