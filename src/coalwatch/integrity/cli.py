"""``coalwatch verify``: re-prove every stored figure and the audit chain."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from coalwatch.config import Settings
from coalwatch.errors import CoalwatchError

#: findings printed before the summary
SHOWN = 20


class Disagreement(CoalwatchError):
    code = "data_tamper"


def add_parser(commands: Any) -> None:
    verify = commands.add_parser(
        "verify",
        help="re-prove every stored figure from the stations' signed uploads and the audit "
        "chain from its signed checkpoints; exit 1 naming the first disagreement",
        description="Re-verifies the signature of every kept upload, compares every stored "
        "record with what its station signed, recomputes every hourly and daily rollup from "
        "the records and approved manual entries, the running totals of every mine's months "
        "and years from the daily rollups, and checks the audit chain against the "
        "center's signed checkpoints. A disagreement raises the data_tamper alarm.",
    )
    verify.add_argument(
        "--incremental",
        action="store_true",
        help="only the uploads kept since the last verification and the hours they touched "
        "(what the hourly job does); default: everything",
    )
    verify.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> None:
    from coalwatch.integrity.service import verify_all
    from coalwatch.storage import migrate
    from coalwatch.storage.session import make_engine, make_sessionmaker

    engine = make_engine(settings.resolved_database_url)
    if not migrate.is_up_to_date(engine):
        raise CoalwatchError(
            "the database is not at the current schema: run `coalwatch db upgrade`"
        )
    started = time.perf_counter()
    outcome = verify_all(
        make_sessionmaker(engine), settings, datetime.now(UTC), full=not args.incremental
    )
    elapsed = time.perf_counter() - started
    figures, audit = outcome.figures, outcome.audit
    for finding in figures.findings[:SHOWN]:
        print(f"DISAGREES {finding}")
    if len(figures.findings) > SHOWN:
        print(f"... and {len(figures.findings) - SHOWN} more")
    print(
        f"figures: {figures.batches} uploads and {figures.records} records re-proved, "
        f"{figures.hours} hourly rollups recomputed, every daily rollup and running total "
        "checked "
        f"({'full' if figures.full else 'incremental'}, {elapsed:.1f} s)"
    )
    if audit is None:
        print(
            f"audit log: intact, {outcome.audit_entries} entries, {outcome.checkpoints} signed "
            "checkpoints hold"
        )
    else:
        print(f"DISAGREES audit log entry {audit.entry_id}: {audit.reason}")
    if audit is not None:
        raise Disagreement(f"audit log broken at entry {audit.entry_id}: {audit.reason}")
    if figures.findings:
        raise Disagreement(
            f"{len(figures.findings)} disagreement(s); the first: {figures.findings[0]}"
        )
