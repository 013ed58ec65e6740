"""Raw storage that lasts: records partitioned by month on PostgreSQL, archived to
checksummed files after the retention, re-proved by ``coalwatch verify``.

The data, worked out by hand (Asia/Shanghai, the world's clock at 2026-03-15 12:00
local = 04:00 UTC; every record is of March 2026, UTC):

- belt B1: totalizer 100.000 t at 11:10 (the first reading: no production), 100.500 t
  at 11:20 (+500 kg), 101.250 t at 11:30 (+750 kg): hour 11:00 measured 1,250 kg;
- skip K1: trips of 8.250 t at 11:15 and 7.750 t at 11:25: 16,000 kg;
- so the archive of March holds 5 records and 1,250 + 16,000 = 17,250 kg.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.config import Settings
from coalwatch.errors import Conflict
from coalwatch.integrity.service import verify_all
from coalwatch.partitions import archive, repository, service
from coalwatch.partitions.models import RawArchive
from coalwatch.storage import migrate
from coalwatch.storage.models import HourlyProduction, Record
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, totalizer, trip, world

LOCAL = timedelta(hours=8)
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL_2 = datetime(2026, 4, 2, tzinfo=UTC)

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 15, hour, minute, tzinfo=UTC) - LOCAL


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": "县", "kind": "county"}))
        w.ok(w.post("/orgs", {"code": "CO1", "name": "公司", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="CO1", belts=("B1",), trips=("K1",))
        w.ok(
            w.upload(
                "S1",
                [
                    totalizer(1, _at(11, 10), "B1", "100.000"),
                    trip(2, _at(11, 15), "K1", "8.250"),
                    totalizer(3, _at(11, 20), "B1", "100.500"),
                    trip(4, _at(11, 25), "K1", "7.750"),
                    totalizer(5, _at(11, 30), "B1", "101.250"),
                ],
            )
        )
        # the clock is in March 2026, long before the migration made its partitions: the
        # default partition took the records, the job gives them March's partition
        with transaction(_sessions(w)) as session:
            service.ensure(session, w.clock(), 2)
        yield w


def _sessions(w: World) -> sessionmaker[Session]:
    return w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined, no-any-return]


def _settings(w: World, tmp_path: Path) -> Settings:
    return Settings(database_url=w.url, var_dir=tmp_path, secret_key="k")


def _archive_march(w: World, tmp_path: Path) -> RawArchive:
    policy = service.Policy.from_settings(_settings(w, tmp_path))
    return service.archive_month(_sessions(w), policy, "records", MARCH, "operator:test", APRIL_2)


def _findings(w: World, tmp_path: Path, *, full: bool = True) -> list[str]:
    outcome = verify_all(_sessions(w), _settings(w, tmp_path), w.clock(), full=full)
    return [str(f) for f in outcome.figures.findings]


def _count(w: World, table: str) -> int:
    with transaction(_sessions(w)) as session:
        return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def _exists(w: World, name: str) -> bool:
    with transaction(_sessions(w)) as session:
        return repository.exists(session, name)


def test_the_raw_tables_are_partitioned_with_the_month_in_their_keys(w: World) -> None:
    with transaction(_sessions(w)) as session:
        kinds = dict(
            session.execute(
                text(
                    "SELECT relname, relkind FROM pg_class WHERE relname IN "
                    "('records', 'quarantined_records', 'records_default') "
                    "AND relnamespace = current_schema()::regnamespace"
                )
            ).all()
        )
        keys = dict(
            session.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'records'::regclass AND contype IN ('p', 'u')"
                )
            ).all()
        )
    assert kinds == {"records": "p", "quarantined_records": "p", "records_default": "r"}
    assert keys == {
        "pk_records": "PRIMARY KEY (id, ts)",
        "uq_records_mine_id_station_id_seq": "UNIQUE (mine_id, station_id, seq, ts)",
    }
    assert _count(w, "records_y2026m03") == 5


def test_a_month_is_archived_dropped_and_verified(w: World, tmp_path: Path) -> None:
    row = _archive_march(w, tmp_path)
    assert (row.rows, row.batches, row.increment_kg) == (5, 1, 17_250)
    assert not _exists(w, "records_y2026m03") and _count(w, "records") == 0
    # the upload that brought them is in the file now, and no stored record needs it
    assert _count(w, "signed_batches") == 0
    path = tmp_path / "archives" / "records-2026-03.jsonl.gz"
    assert row.file_name == path.name and archive.sha256_of(path) == row.sha256
    sidecar = path.with_name(path.name + ".sha256").read_text()
    assert sidecar == f"{row.sha256}  {path.name}\n"
    content = archive.read(path)
    assert [r["seq"] for r in content.rows] == [1, 2, 3, 4, 5]
    assert len(content.batches) == 1 and content.stations[content.batches[0].station_id]
    # the rollups stay; verify re-proves the hour from the archive and the signatures
    with transaction(_sessions(w)) as session:
        measured = session.scalar(select(func.sum(HourlyProduction.measured_kg)))
    assert measured == 17_250
    assert _findings(w, tmp_path) == []
    assert _findings(w, tmp_path, full=False) == []
    # the month's figure is read from the rollups: unchanged
    month = w.ok(w.get("/mines/M1/summary", at=w.clock().isoformat()))["month"]
    assert Decimal(month["gross_t"]) == Decimal("17.25")


def test_a_changed_or_lost_archive_is_a_disagreement(w: World, tmp_path: Path) -> None:
    row = _archive_march(w, tmp_path)
    path = tmp_path / "archives" / row.file_name
    text_ = gzip.decompress(path.read_bytes()).replace(b"8250", b"9250")
    path.write_bytes(gzip.compress(text_))
    where = "archive records-2026-03.jsonl.gz (records 2026-03)"
    # and the hours it held are no longer proved: B1's and K1's hour 11:00
    findings = _findings(w, tmp_path)
    assert findings[0] == f"{where}: its SHA-256 differs from the one recorded"
    hour = "hour 2026-03-15 11:00 of point"
    assert [f[:32] for f in findings[1:]] == [f"{hour} B", f"{hour} K"]
    path.unlink()
    assert _findings(w, tmp_path)[0] == f"{where}: the archive file is missing"


def test_a_late_record_of_an_archived_month_is_kept_and_archived_again(
    w: World, tmp_path: Path
) -> None:
    """After March is archived, B1 reads 101.500 t at 11:40 (+250 kg): the default
    partition takes it; the job gives March a partition again; hour 11:00 is then
    1,250 kg archived + 250 kg stored = 1,500 kg, and verify agrees."""
    _archive_march(w, tmp_path)
    w.ok(w.upload("S1", [totalizer(6, _at(11, 40), "B1", "101.500")]))
    assert _count(w, "records_default") == 1
    with transaction(_sessions(w)) as session:
        hour = session.scalars(
            select(HourlyProduction).where(HourlyProduction.hour_start == _at(11, 0))
        ).all()
        made = service.ensure(session, w.clock(), 2)
    assert sorted((h.point_id, h.measured_kg) for h in hour)[0][1] == 1_500
    assert "records_y2026m03" in made and _count(w, "records_default") == 0
    assert _count(w, "records_y2026m03") == 1
    assert _findings(w, tmp_path) == []
    again = _archive_march(w, tmp_path)
    assert (again.file_name, again.rows, again.increment_kg) == (
        "records-2026-03.2.jsonl.gz",
        1,
        250,
    )
    assert _findings(w, tmp_path) == []


def test_a_record_sent_again_with_another_month_is_a_duplicate(w: World) -> None:
    """Duplicates are known by the station's seqs, not by a unique key: seq 3 again,
    dated in April (another partition), changes nothing."""
    answer = w.ok(w.upload("S1", [totalizer(3, datetime(2026, 4, 1, tzinfo=UTC), "B1", "1")]))
    assert answer["duplicates"] == 1 and answer["acked_seq"] == 5
    with transaction(_sessions(w)) as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 5


def test_the_job_keeps_partitions_ahead_and_archives_past_the_retention(
    w: World, tmp_path: Path
) -> None:
    settings = _settings(w, tmp_path)
    job = service.PartitionJob.from_settings(settings)
    # 2 years and a month later: March 2026 is past the retention (730 days)
    later = datetime(2028, 4, 10, tzinfo=UTC)
    job(_sessions(w), later)
    for name in ("records_y2028m04", "records_y2028m05", "quarantined_records_y2028m06"):
        assert _exists(w, name)
    assert not _exists(w, "records_y2026m03")
    with transaction(_sessions(w)) as session:
        archived = [(a.table_name, f"{a.month_start:%Y-%m}") for a in repository.archives(session)]
    assert ("records", "2026-03") in archived
    # within the hour the job does nothing more
    job(_sessions(w), later + timedelta(minutes=10))


def test_a_month_that_has_not_ended_is_not_archived(w: World, tmp_path: Path) -> None:
    policy = service.Policy.from_settings(_settings(w, tmp_path))
    with pytest.raises(Conflict):
        service.archive_month(_sessions(w), policy, "records", MARCH, "t", w.clock())
    assert _count(w, "records_y2026m03") == 5


def test_migration_moves_existing_rows_into_their_months(w: World) -> None:
    """Down to the plain table and up again: the 5 rows of March land in March's
    partition (the test schema ends at the head as it began)."""
    engine = make_engine(w.url)
    try:
        command.downgrade(migrate.alembic_config(engine), "0031")
        with transaction(make_sessionmaker(engine)) as session:
            kind = session.scalar(
                text("SELECT relkind FROM pg_class WHERE oid = 'records'::regclass")
            )
            assert kind == "r" and session.scalar(text("SELECT count(*) FROM records")) == 5
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    assert _count(w, "records_y2026m03") == 5 and _count(w, "records_default") == 0


def test_an_upload_with_records_of_two_months_stays_until_both_are_archived(
    w: World, tmp_path: Path
) -> None:
    """On April 4 one upload brings B1 at 101.500 t on March 31 23:50 UTC (+250 kg, in
    March) and 102.000 t on April 2 (+500 kg, in April). Archiving March takes the first
    upload away (its 5 records are all archived) but keeps this one (its April record
    is stored); verify proves March's part from the file and April's from the table."""
    w.clock.advance(days=20)
    late = datetime(2026, 3, 31, 23, 50, tzinfo=UTC)
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(6, late, "B1", "101.500"),
                totalizer(7, datetime(2026, 4, 2, tzinfo=UTC), "B1", "102.000"),
            ],
        )
    )
    with transaction(_sessions(w)) as session:
        service.ensure(session, w.clock(), 2)
    row = _archive_march(w, tmp_path)
    assert (row.rows, row.batches, row.increment_kg) == (6, 2, 17_250 + 250)
    assert _count(w, "signed_batches") == 1 and _count(w, "records_y2026m04") == 1
    assert _findings(w, tmp_path) == []
