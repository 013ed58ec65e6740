"""SQLite keeps the simple tables: the partition job does nothing there, and archiving
by hand says why it cannot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from coalwatch.config import Settings
from coalwatch.errors import Invalid
from coalwatch.partitions import service
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction


def test_on_sqlite_the_job_does_nothing_and_archiving_is_refused(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    policy = service.Policy.from_settings(Settings(database_url=sqlite_url, var_dir=tmp_path))
    try:
        service.PartitionJob(policy)(sessions, datetime(2030, 1, 1, tzinfo=UTC))
        with transaction(sessions) as session:
            assert service.ensure(session, datetime(2030, 1, 1, tzinfo=UTC), 2) == []
        with pytest.raises(Invalid, match="PostgreSQL only"):
            service.archive_month(
                sessions,
                policy,
                "records",
                datetime(2026, 3, 1, tzinfo=UTC),
                "t",
                datetime(2026, 4, 2, tzinfo=UTC),
            )
    finally:
        engine.dispose()
    assert not (tmp_path / "archives").exists()


def test_the_retention_is_two_years_at_least() -> None:
    with pytest.raises(ValueError, match="at least 2 years"):
        Settings(raw_retention_days=365)
    assert Settings(raw_retention_days=0).raw_retention_days == 0
