"""Closed raw months dumped once (PostgreSQL): a backup writes each closed month's rows to
a month file of its own, later backups name that file while the month is unchanged and
dump it again when a late record, an update or a deletion changed it; a restore loads
the month files after the main file, refuses a missing or damaged one before touching
the target, and a month file is pruned only when no kept backup names it.

The data and the figures are those of test_backups (worked out by hand there): every
record is of March 2026. The backups are made on 2026-04-03 12:00 in Asia/Shanghai
(04:00 UTC), March ended 2 days before: closed. At that instant

    yesterday, day, month (April)   0 t
    year  gross 300.25 t   raw 286.739 t   (the March production of test_backups)

A late reading of 2026-03-20 10:00, total 1310.25 t, adds 10 t to March: year gross
310.25 t.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text

from coalwatch.adapters import dumps
from coalwatch.auth.principal import OPERATOR
from coalwatch.backups import months, service
from coalwatch.backups.schemas import Figures, Manifest, PruneResult
from coalwatch.config import Settings
from coalwatch.partitions import service as partitions
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.backups.conftest import Pair
from tests.backups.test_backups import D, Env, _env, local, totals, waits_for
from tests.support.world import totalizer

T = TypeVar("T")

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

APRIL_3 = datetime(2026, 4, 3, 4, 0, tzinfo=UTC)
MARCH = "2026-03"
RECORDS_MARCH = "records_y2026m03"


@dataclass
class Case:
    env: Env
    pair: Pair

    @property
    def directory(self) -> Path:
        return self.env.policy.directory

    def backup(self, at: datetime = APRIL_3) -> Manifest:
        return service.create(self.env.url, self.env.policy, "manual", "op", at)

    def scalar(self, sql: str, url: str | None = None, **params: object) -> object:
        engine = make_engine(url or self.env.url)
        try:
            with engine.begin() as connection:
                return connection.scalar(text(sql), params)
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: object) -> None:
        engine = make_engine(self.env.url)
        try:
            with engine.begin() as connection:
                connection.execute(text(sql), params)
        finally:
            engine.dispose()

    def late_reading(self) -> None:
        w = self.env.w
        (seq,) = w.stations["S1"].seqs(1)
        w.ok(w.upload("S1", [totalizer(seq, local(2026, 3, 20, 10, 0), "B1", "1310.25")]))


@pytest.fixture
def case(pair: Pair, tmp_path: Path) -> Iterator[Case]:
    with _env(pair.source, tmp_path) as env:
        engine = make_engine(env.url)
        with transaction(make_sessionmaker(engine)) as session:
            partitions.ensure(session, env.now(), 2)  # March, April, May 2026
        engine.dispose()
        env.w.clock.advance(days=19)  # 2026-04-03 12:00 local
        yield Case(env, pair)


def assert_april_3(figures: Figures, gross: str = "300.25", records: int = 4) -> None:
    m1 = figures.mines["M1"]
    for period in (m1.yesterday, m1.day, m1.month):
        assert totals(period) == (D(0), D(0), D(0))
    assert totals(m1.year)[0] == D(gross)
    if gross == "300.25":
        assert totals(m1.year) == (D("300.25"), D("286.739"), D(0))
    assert figures.rows["records"] == records


def month_file(manifest: Manifest, table: str = "records") -> str:
    (found,) = [m.file_name for m in manifest.raw_months if (m.table, m.month) == (table, MARCH)]
    return found


def table_data(dump: Path) -> list[str]:
    """The tables whose rows the dump holds (from pg_restore --list)."""
    contents = dumps.pg_list(dumps.any_pg_tool("pg_restore"), dump)
    return [line.split()[-2] for line in contents.splitlines() if " TABLE DATA " in line]


def test_a_second_backup_dumps_no_closed_month_again_and_both_restore_the_same(
    case: Case,
) -> None:
    first = case.backup()
    assert_april_3(first.figures)
    assert {(m.table, m.month, m.rows) for m in first.raw_months} == {
        ("records", MARCH, 4),
        ("quarantined_records", MARCH, 0),
    }
    assert RECORDS_MARCH not in table_data(case.directory / first.file_name)
    assert table_data(case.directory / month_file(first)) == [RECORDS_MARCH]
    files = sorted(p.name for p in case.directory.iterdir())

    second = case.backup(APRIL_3 + timedelta(hours=1))
    assert second.raw_months == first.raw_months  # the same files, marks and rows
    assert second.figures.rows == first.figures.rows
    assert RECORDS_MARCH not in table_data(case.directory / second.file_name)
    # only the second's main file and manifest are new
    assert sorted(p.name for p in case.directory.iterdir()) == sorted(
        [*files, second.file_name, f"{second.file_name}.json"]
    )
    _, checked = service.verify(case.directory / second.file_name)
    assert checked[-1].startswith("2 month files")
    case.pair.lose_source()

    policy, target = case.env.policy, case.pair.target
    result = service.restore(target, case.directory / second.file_name, policy, "op", APRIL_3)
    assert result.verified and result.figures.rows == second.figures.rows
    assert_april_3(result.figures)
    assert case.scalar(f"SELECT count(*) FROM {RECORDS_MARCH}", target) == 4
    # the first into the same database (it holds data now: replaced after a backup of it)
    again = service.restore(
        target, case.directory / first.file_name, policy, "op", APRIL_3, force=True
    )
    assert again.verified and again.figures.mines == result.figures.mines
    assert again.pre_restore is not None
    # the restored database is a history of its own: its months are dumped afresh
    assert not {m.file_name for m in again.pre_restore.raw_months} & {
        m.file_name for m in second.raw_months
    }


def test_a_late_record_of_a_closed_month_is_dumped_again(case: Case) -> None:
    first = case.backup()
    case.late_reading()
    second = case.backup(APRIL_3 + timedelta(hours=1))
    assert_april_3(second.figures, gross="310.25", records=5)
    assert month_file(second) != month_file(first)
    assert month_file(second, "quarantined_records") == month_file(first, "quarantined_records")
    (records,) = [m for m in second.raw_months if m.table == "records"]
    assert records.rows == 5
    case.pair.lose_source()

    target = case.pair.target
    result = service.restore(
        target, case.directory / second.file_name, case.env.policy, "op", APRIL_3
    )
    assert result.verified
    assert_april_3(result.figures, gross="310.25", records=5)
    late = case.scalar(
        "SELECT increment_kg FROM records WHERE ts = :ts", target, ts=local(2026, 3, 20, 10, 0)
    )
    assert late == 10_000


def test_an_updated_or_deleted_old_record_is_dumped_again(case: Case) -> None:
    first = case.backup()
    newest = case.scalar("SELECT max(id) FROM records")
    # as ingest corrects an increment when a reading arrives out of order
    case.execute("UPDATE records SET increment_kg = 20250 WHERE id = :id", id=newest)
    second = case.backup(APRIL_3 + timedelta(hours=1))
    assert month_file(second) not in (month_file(first),)
    case.execute("DELETE FROM records WHERE id = :id", id=newest)
    third = case.backup(APRIL_3 + timedelta(hours=2))
    assert month_file(third) not in (month_file(first), month_file(second))
    assert third.figures.rows["records"] == 3
    case.pair.lose_source()

    target = case.pair.target
    result = service.restore(
        target, case.directory / second.file_name, case.env.policy, "op", APRIL_3
    )
    assert result.verified and result.figures.rows["records"] == 4
    assert (
        case.scalar("SELECT increment_kg FROM records WHERE id = :id", target, id=newest) == 20250
    )


@contextmanager
def refused(case: Case) -> Iterator[None]:
    """The restore is refused and the database it was to replace is as it was."""
    before = sorted(p.name for p in case.directory.iterdir())
    yield
    assert case.scalar("SELECT count(*) FROM records") == 4
    assert set_aside(case) == 0
    assert sorted(p.name for p in case.directory.iterdir()) == before  # no pre_restore backup


def test_a_missing_or_damaged_month_file_refuses_the_restore(case: Case) -> None:
    made = case.backup()
    backup, policy = case.directory / made.file_name, case.env.policy
    path = case.directory / month_file(made)
    data = path.read_bytes()

    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with refused(case), pytest.raises(service.BackupCorrupt, match=f"{path.name}.*damaged"):
        service.restore(case.env.url, backup, policy, "op", APRIL_3, force=True)
    with pytest.raises(service.BackupCorrupt, match="damaged"):
        service.verify(backup)

    path.unlink()
    with refused(case), pytest.raises(service.BackupCorrupt, match=f"{path.name}.*missing"):
        service.restore(case.env.url, backup, policy, "op", APRIL_3, force=True)

    # a whole file that does not load (another backup's rows): nothing half-restored
    path.write_bytes(data)
    other = case.directory / month_file(made, "quarantined_records")
    other.write_bytes(data)  # the records' rows where the quarantine's are expected
    manifest = made.model_copy(
        update={
            "raw_months": [
                m.model_copy(update={"sha256": dumps.sha256_of(other), "size_bytes": len(data)})
                if m.file_name == other.name
                else m
                for m in made.raw_months
            ]
        }
    )
    service.write_manifest(case.directory, manifest)
    with pytest.raises(dumps.DumpFailed):
        service.restore(case.env.url, backup, policy, "op", APRIL_3, force=True)
    assert case.scalar("SELECT count(*) FROM records") == 4
    assert set_aside(case) == 0


def test_prune_keeps_a_month_file_a_kept_backup_names(case: Case) -> None:
    first = case.backup()
    case.late_reading()
    second = case.backup(APRIL_3 + timedelta(days=400))
    third = case.backup(APRIL_3 + timedelta(days=800))
    assert month_file(third) == month_file(second) != month_file(first)
    quarantine = month_file(first, "quarantined_records")
    assert month_file(third, "quarantined_records") == quarantine

    engine = make_engine(case.env.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            result = service.prune(session, case.env.policy, "op", APRIL_3 + timedelta(days=800))
    finally:
        engine.dispose()
    assert result.pruned == [first.file_name]
    assert not (case.directory / month_file(first)).exists()  # named by the first alone
    assert (case.directory / quarantine).exists()  # the kept ones name it too
    service.verify(case.directory / second.file_name)
    service.verify(case.directory / third.file_name)


def test_a_month_archived_after_a_backup_is_named_by_its_archive_file(
    case: Case, tmp_path: Path
) -> None:
    first = case.backup()
    settings = Settings(database_url=case.env.url, var_dir=tmp_path, secret_key="k")
    engine = make_engine(case.env.url)
    try:
        archived = partitions.archive_month(
            make_sessionmaker(engine),
            partitions.Policy.from_settings(settings),
            "records",
            datetime(2026, 3, 1, tzinfo=UTC),
            "op",
            APRIL_3,
        )
    finally:
        engine.dispose()
    second = case.backup(APRIL_3 + timedelta(hours=1))
    assert [(m.table, m.month) for m in second.raw_months] == [("quarantined_records", MARCH)]
    assert [(a.month, a.sha256) for a in second.raw_archives] == [(MARCH, archived.sha256)]
    assert second.figures.rows["records"] == 0
    assert (case.directory / month_file(first)).exists()  # still the first's
    case.pair.lose_source()
    result = service.restore(
        case.pair.target, case.directory / second.file_name, case.env.policy, "op", APRIL_3
    )
    assert result.verified
    year = result.figures.mines["M1"].year
    assert (Decimal(year.gross_t), Decimal(year.raw_t)) == (Decimal("300.25"), Decimal("286.739"))


def _prune(case: Case, at: datetime) -> PruneResult:
    engine = make_engine(case.env.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return service.prune(session, case.env.policy, "op", at)
    finally:
        engine.dispose()


@contextmanager
def main_dump_held(case: Case) -> Iterator[None]:
    """A table of the schema that only the main dump reads (no model has it, it is no
    month partition), locked: a backup counts its figures and dumps its month files,
    then its main dump waits for that table until the block ends."""
    case.execute("CREATE TABLE IF NOT EXISTS held (id integer) PARTITION BY RANGE (id)")
    holder = make_engine(case.env.url)
    try:
        with holder.begin() as connection:
            connection.execute(text("LOCK TABLE held IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        holder.dispose()


def set_aside(case: Case) -> int:
    """The schemas a restore of this case's database set aside and kept (other tests'
    restores beside it set their own aside)."""
    schema = dumps.pg_database(case.env.url).schema
    found = case.scalar(
        "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, :prefix)",
        prefix=f"{schema}_before_restore_",
    )
    assert isinstance(found, int)
    return found


def main_dump_waiting(case: Case) -> bool:
    schema = dumps.pg_database(case.env.url).schema
    return bool(
        case.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' "
            "AND wait_event_type = 'Lock' AND query LIKE :pattern",
            pattern=f"%{schema}%held%",
        )
    )


def until(done: Callable[[], bool], what: str) -> None:
    for _ in range(12_000):
        if done():
            return
        time.sleep(0.01)
    raise AssertionError(f"still not {what}")


def test_month_files_of_a_killed_backup_are_removed_by_the_next_prune(case: Case) -> None:
    """`coalwatch backup create` killed (SIGKILL) after it dumped its month files, while
    its main dump waits: the files no manifest names are removed by the next prune, the
    ones a backup names stay."""
    made = case.backup()
    case.late_reading()  # March changed: the killed backup dumps it anew
    env = {
        **os.environ,
        "COALWATCH_DATABASE_URL": case.env.url,
        "COALWATCH_BACKUP_DIR": str(case.directory),
    }
    with main_dump_held(case):
        process = subprocess.Popen(
            [sys.executable, "-m", "coalwatch.cli", "backup", "create"],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            until(lambda: main_dump_waiting(case) or process.poll() is not None, "dumping")
            assert process.poll() is None, process.communicate()[1]
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    named = {made.file_name, f"{made.file_name}.json", *(m.file_name for m in made.raw_months)}
    left = {p.name for p in case.directory.glob("coalwatch-*")} - named
    assert any(name.endswith(f".{RECORDS_MARCH}.pgdump") for name in left), left

    assert _prune(case, APRIL_3 + timedelta(hours=2)).pruned == []
    assert {p.name for p in case.directory.glob("coalwatch-*")} == named
    service.verify(case.directory / made.file_name)


def test_a_backup_removes_what_a_killed_one_left_before_it_starts(case: Case) -> None:
    """Its month files, its partial files, and its main file when it was killed after
    putting it in place but before writing its manifest (a backup without a manifest is
    never restored: its checksum cannot be checked)."""
    made = case.backup()
    killed = "coalwatch-20260403T043000Z-manual.pgdump"
    left = [
        case.directory / months.file_name(killed, RECORDS_MARCH),
        case.directory / f"{months.file_name(killed, 'quarantined_records_y2026m03')}.partial",
        case.directory / f"{killed}.partial",
        case.directory / killed,
    ]
    for path in left:
        path.write_bytes((case.directory / month_file(made)).read_bytes())
    second = case.backup(APRIL_3 + timedelta(hours=1))
    assert not [path.name for path in left if path.exists()]
    assert second.raw_months == made.raw_months
    service.verify(case.directory / second.file_name)


def test_a_prune_beside_a_running_backup_waits_for_it(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    """A backup that has dumped its month files but not yet written its manifest: a
    prune started then waits for it (and says so in the log), and removes none of its
    files."""
    caplog.set_level(logging.INFO, logger="coalwatch")
    case.env.policy = replace(case.env.policy, lock_wait=timedelta(minutes=10))
    made: list[Manifest | Exception] = []
    pruned: list[PruneResult | Exception] = []
    backup = threading.Thread(target=lambda: made.append(outcome(case.backup)))
    prune = threading.Thread(target=lambda: pruned.append(outcome(lambda: _prune(case, APRIL_3))))
    lock = case.directory / service.LOCK_FILE
    with main_dump_held(case):
        backup.start()
        until(lambda: main_dump_waiting(case) or not backup.is_alive(), "dumping")
        assert backup.is_alive()
        prune.start()
        until(lambda: not prune.is_alive() or waits_for(lock), "pruning or waiting")
    backup.join()
    prune.join()
    (manifest,) = made
    assert isinstance(manifest, Manifest), manifest
    assert [p.pruned for p in pruned if isinstance(p, PruneResult)] == [[]], pruned
    service.verify(case.directory / manifest.file_name)
    assert f"waiting for the backups being made or read in {case.directory}" in caplog.text


def outcome(call: Callable[[], T]) -> T | Exception:
    """What a call in a thread of the test returned, or raised."""
    try:
        return call()
    except Exception as exc:
        return exc


def test_the_ledger_counts_the_month_files_in_a_backups_size(case: Case) -> None:
    """A backup's size is its main file and the month files it names (a month file two
    backups name counts in both); `month_files_bytes` says how much of it they are."""
    first = case.backup()
    second = case.backup(APRIL_3 + timedelta(hours=1))
    main = {m.file_name: (case.directory / m.file_name).stat().st_size for m in (first, second)}
    month_bytes = sum((case.directory / m.file_name).stat().st_size for m in first.raw_months)
    assert month_bytes > 0 and len(first.raw_months) == 2
    engine = make_engine(case.env.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            listed = service.list_backups(session, OPERATOR, case.directory)
    finally:
        engine.dispose()
    assert {b.file_name: (b.size_bytes, b.month_files_bytes) for b in listed} == {
        name: (size + month_bytes, month_bytes) for name, size in main.items()
    }
    on_disk = {b.file_name: b.size_bytes for b in service.list_directory(case.directory)}
    assert on_disk == {name: size + month_bytes for name, size in main.items()}
