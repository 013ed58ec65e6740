"""Backups 备份: a restore gives the same figures; damaged files are refused; prune keeps
the newest; the schedule and the changes that call for a backup. SQLite and PostgreSQL.

The clock stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC). Mine M1's belt B1
reads, local time (the first reading is the baseline):

    2026-03-14 08:00  1000.000
    2026-03-14 09:30  1100.500   +100.500 t
    2026-03-14 10:15  1250.250   +149.750 t
    2026-03-15 11:00  1300.250    +50.000 t

with k = 4.5 % approved for 2026-01-01..06-30, so

    yesterday  gross 100.5 + 149.75 = 250.25 t   raw 250.25 × 0.955 = 238.98875 → 238.989
    day        gross 50 t                         raw 50 × 0.955 = 47.75
    month      gross 250.25 + 50 = 300.25 t       raw 300.25 × 0.955 = 286.73875 → 286.739
    year       = month (nothing before March)
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from coalwatch.adapters.dumps import DumpFailed
from coalwatch.audit import checkpoints
from coalwatch.audit.checkpoints import Checkpoint
from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import Principal
from coalwatch.auth.service import create_admin
from coalwatch.backups import service
from coalwatch.backups.models import BackupEntry
from coalwatch.backups.schemas import Figures, PeriodTotals
from coalwatch.jobs.scheduler import run_once
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.models import User
from coalwatch.wire.signing import generate_private_key
from tests.backups.conftest import Pair
from tests.conftest import _truncate_postgres
from tests.support.world import World, totalizer, world

SH = ZoneInfo("Asia/Shanghai")
ADMIN_PASSWORD = "Coal-2026-pass"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def D(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass
class Env:
    w: World
    policy: service.Policy

    @property
    def url(self) -> str:
        return self.w.url

    def now(self) -> datetime:
        return self.w.clock()

    def ledger(self, url: str | None = None) -> list[BackupEntry]:
        engine = make_engine(url or self.url)
        with transaction(make_sessionmaker(engine)) as session:
            rows = list(session.scalars(select(BackupEntry).order_by(BackupEntry.created_at)))
        engine.dispose()
        return rows

    def run_due(self) -> str | None:
        engine = make_engine(self.url)
        try:
            made = service.run_due(self.url, make_sessionmaker(engine), self.policy, self.now())
        finally:
            engine.dispose()
        return None if made is None else made.trigger


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    with _env(database_url, tmp_path) as env:
        yield env


@pytest.fixture
def sqlite_env(sqlite_url: str, tmp_path: Path) -> Iterator[Env]:
    """For what does not depend on the backend (files, checksums, the ledger's logic)."""
    with _env(sqlite_url, tmp_path) as env:
        yield env


@contextmanager
def _env(url: str, tmp_path: Path) -> Iterator[Env]:
    with world(url) as w:
        w.mine("M1")
        w.ok(
            w.post(
                "/mines/M1/coefficients",
                {"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-06-30"},
            )
        )
        readings = [
            (local(2026, 3, 14, 8, 0), "1000"),
            (local(2026, 3, 14, 9, 30), "1100.5"),
            (local(2026, 3, 14, 10, 15), "1250.25"),
            (local(2026, 3, 15, 11, 0), "1300.25"),
        ]
        seqs = w.stations["S1"].seqs(len(readings))
        records = [totalizer(s, ts, "B1", t) for s, (ts, t) in zip(seqs, readings, strict=True)]
        w.ok(w.upload("S1", records))
        policy = service.Policy(
            directory=tmp_path / "backups",
            interval=timedelta(days=91),
            retention=timedelta(days=730),
        )
        yield Env(w, policy)


def totals(t: PeriodTotals) -> tuple[Decimal, Decimal, Decimal]:
    return D(t.gross_t), D(t.raw_t), D(t.manual_t)


def assert_hand_computed(figures: Figures) -> None:
    m1 = figures.mines["M1"]
    assert totals(m1.yesterday) == (D("250.25"), D("238.989"), D(0))
    assert totals(m1.day) == (D(50), D("47.75"), D(0))
    assert totals(m1.month) == (D("300.25"), D("286.739"), D(0))
    assert totals(m1.year) == (D("300.25"), D("286.739"), D(0))
    assert figures.rows["records"] == 4


def test_restore_of_yesterdays_backup_into_an_empty_database_gives_the_same_figures(
    pair: Pair, tmp_path: Path
) -> None:
    with _env(pair.source, tmp_path) as env:
        made = service.create(env.url, env.policy, "manual", "operator:test", env.now())
        assert_hand_computed(made.figures)
        assert (env.policy.directory / made.file_name).exists()
        assert [e.file_name for e in env.ledger()] == [made.file_name]
        # readable without restoring it (SQLite: figures recomputed; PostgreSQL: pg_restore)
        manifest, checked = service.verify(env.policy.directory / f"{made.file_name}.json")
        assert manifest.sha256 == made.sha256
        assert checked[0].startswith("SHA-256") and len(checked) == 2
        policy, restored_on = env.policy, env.now() + timedelta(days=1)
    pair.lose_source()

    # the day after, yesterday's backup into an empty database
    result = service.restore(
        pair.target, policy.directory / made.file_name, policy, "op", restored_on
    )
    assert result.differences == [] and result.verified
    assert result.pre_restore is None
    assert_hand_computed(result.figures)
    assert result.figures.audit_head == made.figures.audit_head != ""

    # the restored database holds the ledger row (from the manifest) and the restore
    engine = make_engine(pair.target)
    with transaction(make_sessionmaker(engine)) as session:
        ledger = [(e.file_name, e.sha256) for e in session.scalars(select(BackupEntry))]
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    engine.dispose()
    assert ledger == [(made.file_name, made.sha256)]
    assert last is not None and last.action == "backup.restore"
    # and the center works on it: the API gives the same figures
    with world(pair.target, now=restored_on) as w:
        s = w.ok(w.get("/mines/M1/summary", at=made.created_at.isoformat()))
        assert (D(s["month"]["gross_t"]), D(s["month"]["raw_t"])) == (D("300.25"), D("286.739"))


def test_a_damaged_backup_is_refused(sqlite_env: Env, tmp_path: Path) -> None:
    env, empty_target = sqlite_env, f"sqlite:///{tmp_path / 'empty.db'}"
    made = service.create(env.url, env.policy, "manual", "op", env.now())
    path = env.policy.directory / made.file_name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit pattern in the middle
    path.write_bytes(bytes(data))
    with pytest.raises(service.BackupCorrupt, match="SHA-256"):
        service.restore(empty_target, path, env.policy, "op", env.now())
    with pytest.raises(service.BackupCorrupt):
        service.verify(path)
    path.write_bytes(bytes(data[:-1]))
    with pytest.raises(service.BackupCorrupt, match="bytes"):
        service.restore(empty_target, path, env.policy, "op", env.now())


def test_a_target_that_holds_data_is_replaced_only_with_force_after_a_backup(
    sqlite_url: str, tmp_path: Path
) -> None:
    policy = service.Policy(tmp_path / "b", timedelta(days=91), timedelta(days=730))
    with world(sqlite_url) as w:
        w.mine("M1")
        first = service.create(sqlite_url, policy, "manual", "op", w.clock())
        w.clock.advance(hours=1)
        w.mine("M2", org="C2", station="S2")  # a change after the backup
        with pytest.raises(service.TargetHoldsData, match="--force"):
            service.restore(sqlite_url, policy.directory / first.file_name, policy, "op", w.clock())
        result = service.restore(
            sqlite_url, policy.directory / first.file_name, policy, "op", w.clock(), force=True
        )
        assert result.verified
        assert result.pre_restore is not None and result.pre_restore.trigger == "pre_restore"
        assert list(result.pre_restore.figures.mines) == ["M1", "M2"]
        assert list(result.figures.mines) == ["M1"]  # M2 came after the backup
        # both backups are in the restored ledger: the pre-restore one from its manifest
        engine = make_engine(sqlite_url)
        with transaction(make_sessionmaker(engine)) as session:
            names = {e.trigger for e in session.scalars(select(BackupEntry))}
        engine.dispose()
        assert names == {"manual", "pre_restore"}
        # and the replaced content can be had back from the pre-restore backup
        again = service.restore(
            sqlite_url,
            policy.directory / result.pre_restore.file_name,
            policy,
            "op",
            w.clock(),
            force=True,
        )
        assert again.verified and list(again.figures.mines) == ["M1", "M2"]


def test_prune_deletes_what_is_past_the_retention_but_never_the_newest(sqlite_env: Env) -> None:
    env = sqlite_env
    # backups on day 0, 400 and 800; retention 730 days: at day 800 the first is past it
    made = []
    for day in (0, 400, 800):
        if day:
            env.w.clock.advance(days=400)
        made.append(service.create(env.url, env.policy, "manual", "op", env.now()))
    engine = make_engine(env.url)
    with transaction(make_sessionmaker(engine)) as session:
        result = service.prune(session, env.policy, "op", env.now())
    assert result.pruned == [made[0].file_name]
    assert not (env.policy.directory / made[0].file_name).exists()
    assert (env.policy.directory / f"{made[0].file_name}.json").exists()  # the record stays
    # 2000 days later everything is past the retention: the newest is still kept
    env.w.clock.advance(days=2000)
    with transaction(make_sessionmaker(engine)) as session:
        result = service.prune(session, env.policy, "op", env.now())
        items = service.list_backups(session, _whole_tree(), env.policy.directory)
    engine.dispose()
    assert result.pruned == [made[1].file_name] and result.kept == [made[2].file_name]
    assert [(i.file_name, i.status) for i in items] == [
        (made[2].file_name, "ok"),
        (made[1].file_name, "pruned"),
        (made[0].file_name, "pruned"),
    ]
    assert [e.pruned_by for e in env.ledger()] == ["op", "op", None]


def _whole_tree() -> Principal:
    return Principal(name="t", scope_path=None, permissions=frozenset({"ledger:view"}))


def test_the_schedule_makes_a_backup_when_due_and_not_before(env: Env) -> None:
    assert env.run_due() == "schedule"  # none yet: the first is due at once
    assert env.run_due() is None
    env.w.clock.advance(days=90, hours=23)
    assert env.run_due() is None  # 91 days ("every 3 months") are not over yet
    env.w.clock.advance(hours=1)
    assert env.run_due() == "schedule"
    # a parameter change (capacity) calls for one too, once settled; a login does not
    env.w.clock.advance(minutes=1)
    env.w.ok(
        env.w.put(
            "/mines/M1/capacity", {"annual_capacity_t": 660000, "effective_from": "2026-07-01"}
        )
    )
    env.w.clock.advance(minutes=5)
    assert env.run_due() == "parameter_change"
    assert env.run_due() is None
    assert [e.trigger for e in env.ledger()] == ["schedule", "schedule", "parameter_change"]


def test_a_password_change_calls_for_a_backup_once_it_has_settled(env: Env) -> None:
    assert env.run_due() == "schedule"
    engine = make_engine(env.url)
    with transaction(make_sessionmaker(engine)) as session:
        create_admin(session, "chief", ADMIN_PASSWORD, env.now())
    assert env.run_due() is None  # the same instant as the backup: not after it
    env.w.clock.advance(minutes=10)
    with transaction(make_sessionmaker(engine)) as session:
        admin = session.scalars(select(User).where(User.username == "chief")).one()
        me = Principal("chief", None, frozenset({"*"}), kind="user", user_id=admin.id)
        users.change_password(session, me, ADMIN_PASSWORD, "Another-2026-pass", env.now())
    engine.dispose()
    env.w.clock.advance(minutes=4)
    assert env.run_due() is None  # quiet for 5 minutes first
    env.w.clock.advance(minutes=1)
    assert env.run_due() == "password_change"
    env.w.clock.advance(minutes=10)
    assert env.run_due() is None  # made: nothing pending


def test_the_jobs_round_makes_the_backup_that_is_due_and_retries_a_failure_hourly(
    sqlite_env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env = sqlite_env
    env.policy.directory.parent.mkdir(parents=True, exist_ok=True)
    env.policy.directory.write_text("not a directory")  # the backup cannot be written
    job = service.BackupJob(env.url, env.policy)
    engine = make_engine(env.url)
    sessions = make_sessionmaker(engine)
    run_once(sessions, None, env.now(), backups=job)
    env.w.clock.advance(minutes=59)
    run_once(sessions, None, env.now(), backups=job)  # not tried again within the hour
    failures = [r for r in caplog.records if r.name == "coalwatch.backups"]
    assert len(failures) == 1 and "backup failed" in failures[0].getMessage()
    env.policy.directory.unlink()
    env.w.clock.advance(minutes=1)
    run_once(sessions, None, env.now(), backups=job)
    engine.dispose()
    assert [e.trigger for e in env.ledger()] == ["schedule"]


def test_every_backup_carries_the_newest_audit_checkpoint(env: Env, tmp_path: Path) -> None:
    """In its manifest (a copy outside the database) and in the backed-up table."""
    assert service.create(env.url, env.policy, "manual", "op", env.now()).audit_checkpoint is None
    key = generate_private_key()
    engine = make_engine(env.url)
    with transaction(make_sessionmaker(engine)) as session:
        signed = checkpoints.make_checkpoint(session, key, env.now(), None)
    engine.dispose()
    assert signed is not None
    made = service.create(env.url, env.policy, "manual", "op", env.now() + timedelta(minutes=1))
    assert made.audit_checkpoint == signed.as_json()
    manifest, _ = service.verify(env.policy.directory / f"{made.file_name}.json")
    assert manifest.audit_checkpoint == signed.as_json()
    assert Checkpoint.from_json(manifest.audit_checkpoint).head_id == made.audit_head_id


@pytest.fixture
def postgres_env(postgres_schema: str, tmp_path: Path) -> Iterator[Env]:
    _truncate_postgres(postgres_schema)
    with _env(postgres_schema, tmp_path) as env:
        yield env


def test_a_backup_behind_a_held_table_lock_fails_in_time_and_leaves_nothing(
    postgres_env: Env,
) -> None:
    """A migration (or any DDL) holding a table: the dump gives up with the reason after
    the policy's wait, instead of queueing for ever (and with it every later lock on the
    table, a deadlock once the holder waits for the backup); once the lock is gone the
    next backup is made."""
    env = replace(postgres_env, policy=replace(postgres_env.policy, lock_wait=timedelta(seconds=1)))
    holder = make_engine(env.url)
    try:
        with holder.begin() as connection:
            connection.execute(text("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(DumpFailed, match="lock"):
                service.create(env.url, env.policy, "manual", "op", env.now())
        assert [p.name for p in env.policy.directory.glob("*")] == [service.LOCK_FILE]
        made = service.create(env.url, env.policy, "manual", "op", env.now())
        assert (env.policy.directory / made.file_name).exists()
    finally:
        holder.dispose()


def test_a_restore_waits_for_a_prune_of_its_directory(sqlite_env: Env, tmp_path: Path) -> None:
    """A prune holds the backups' directory: a restore started meanwhile waits for it
    (the prune could remove the file it reads), and then restores."""
    env, target = sqlite_env, f"sqlite:///{tmp_path / 'restored.db'}"
    made = service.create(env.url, env.policy, "manual", "op", env.now())
    lock = env.policy.directory / service.LOCK_FILE
    restored: list[object] = []

    def restore() -> None:
        try:
            restored.append(
                service.restore(
                    target, env.policy.directory / made.file_name, env.policy, "op", env.now()
                )
            )
        except Exception as exc:
            restored.append(exc)

    thread = threading.Thread(target=restore)
    with _held_exclusively(lock):  # as a prune holds it
        thread.start()
        deadline = time.monotonic() + 30
        while not waits_for(lock) and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert thread.is_alive() and not restored, restored
    thread.join(60)
    (result,) = restored
    assert isinstance(result, service.RestoreResult), result
    assert result.verified


@contextmanager
def _held_exclusively(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def waits_for(lock: Path) -> bool:
    """Whether a process waits for a lock on the file (Linux: /proc/locks)."""
    if not lock.exists():
        return False
    inode = lock.stat().st_ino
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and f":{inode} " in line for line in lines)
