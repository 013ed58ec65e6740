"""Backups with raw months archived (PostgreSQL): the backup holds the rollups, the
configuration and the months still in the database; it names the archived months'
files; its restore gives the same figures, and verify re-proves the archived month from
its file on the restored database.

The data and the figures are those of test_backups (worked out by hand there): every
record is of March 2026, which is archived before the backup is made.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from coalwatch.backups import service
from coalwatch.config import Settings
from coalwatch.integrity.service import verify_all
from coalwatch.partitions import service as partitions
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.backups.conftest import Pair
from tests.backups.test_backups import _env, assert_hand_computed

MARCH = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_backup_with_an_archived_month_restores_to_the_same_figures(
    pair: Pair, tmp_path: Path
) -> None:
    settings = Settings(database_url=pair.source, var_dir=tmp_path, secret_key="k")
    policy = partitions.Policy.from_settings(settings)
    with _env(pair.source, tmp_path) as env:
        sessions = make_sessionmaker(make_engine(env.url))
        with transaction(sessions) as session:
            partitions.ensure(session, env.now(), 2)
        archived = partitions.archive_month(
            sessions, policy, "records", MARCH, "operator:test", datetime(2026, 4, 2, tzinfo=UTC)
        )
        assert archived.rows == 4
        made = service.create(env.url, env.policy, "manual", "operator:test", env.now())
        # the same figures as before the archive (from the rollups); no raw row is dumped
        figures = made.figures.model_copy(update={"rows": {**made.figures.rows, "records": 4}})
        assert_hand_computed(figures)
        assert made.figures.rows["records"] == 0 and made.figures.rows["raw_archives"] == 1
        assert [(a.table, a.month, a.sha256) for a in made.raw_archives] == [
            ("records", "2026-03", archived.sha256)
        ]
        backups = env.policy
    pair.lose_source()

    result = service.restore(
        pair.target, backups.directory / made.file_name, backups, "op", made.created_at
    )
    assert result.differences == [] and result.verified
    engine = make_engine(pair.target)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT to_regclass('records_y2026m03')")) is None
        restored = Settings(database_url=pair.target, var_dir=tmp_path, secret_key="k")
        outcome = verify_all(
            make_sessionmaker(engine), restored, made.created_at + timedelta(days=1), full=True
        )
    finally:
        engine.dispose()
    assert [str(f) for f in outcome.figures.findings] == []
    month = result.figures.mines["M1"].month
    assert (Decimal(month.gross_t), Decimal(month.raw_t)) == (Decimal("300.25"), Decimal("286.739"))
