"""``coalwatch audit verify``: check the audit log's hash chain."""

from __future__ import annotations

import argparse
from typing import Any

from coalwatch.config import Settings
from coalwatch.errors import CoalwatchError


class AuditBroken(CoalwatchError):
    code = "audit_broken"


def add_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "verify", help="check that no entry was edited or removed; name the first broken one"
    )
    check.add_argument(
        "--checkpoints",
        metavar="FILE",
        action="append",
        default=[],
        help="more signed checkpoints of this center, as JSON lines (e.g. the ones its "
        "upstream keeps: GET /api/v1/centers/{code}/checkpoints); may be repeated",
    )
    check.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> None:
    from pathlib import Path

    from sqlalchemy import func, select

    from coalwatch.audit import checkpoints
    from coalwatch.audit.models import AuditEntry
    from coalwatch.integrity.keys import center_key
    from coalwatch.storage import migrate
    from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
    from coalwatch.wire.signing import public_key_b64

    engine = make_engine(settings.resolved_database_url)
    if not migrate.is_up_to_date(engine):
        raise CoalwatchError(
            "the database is not at the current schema: run `coalwatch db upgrade`"
        )
    key = center_key(settings, create=False)
    found = []
    for name in args.checkpoints:
        path = Path(name)
        if not path.is_file():
            raise CoalwatchError(f"--checkpoints {name}: no such file")
        found += checkpoints.from_lines(path.read_text(encoding="utf-8"))
    with transaction(make_sessionmaker(engine)) as session:
        own = checkpoints.log_file(Path(settings.var_dir), session)
        found += checkpoints.from_file(Path(settings.var_dir), session)
        broken = checkpoints.verify_anchored(
            session, None if key is None else public_key_b64(key), found
        )
        entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
        kept = len(checkpoints.stored(session))
    if broken is not None:
        raise AuditBroken(f"audit log broken at entry {broken.entry_id}: {broken.reason}")
    print(
        f"audit log intact: {entries} entries, every link verified, {kept} signed checkpoints hold"
    )
    print(f"this database's checkpoint file: {own}")
