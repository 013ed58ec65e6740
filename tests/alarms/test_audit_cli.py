"""`coalwatch audit verify` names the first entry that was edited in the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, update

from coalwatch.audit.models import AuditEntry
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import world


def _verify(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COALWATCH_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "coalwatch.cli", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_audit_verify_names_the_edited_row(database_url: str, tmp_path: Path) -> None:
    with world(database_url) as w:
        w.mine("M1")
        for minutes in (5, 7, 9):
            w.ok(w.put("/mines/M1/thresholds", {"name": "no_data_minutes", "value": minutes}))
    done = _verify(database_url)
    assert done.returncode == 0, done.stderr
    # the world's token, org, mine, point, station (5) and three threshold changes
    assert "intact: 8 entries" in done.stdout
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        second = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[1]
        session.execute(
            update(AuditEntry).where(AuditEntry.id == second.id).values(actor="someone else")
        )
    engine.dispose()
    done = _verify(database_url)
    assert done.returncode == 1
    assert f"broken at entry {second.id}" in done.stderr and "edited" in done.stderr
