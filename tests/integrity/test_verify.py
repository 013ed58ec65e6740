"""Every stored figure is provable: `coalwatch verify` re-derives records and rollups from
the stations' signed uploads, and the audit chain from the center's signed checkpoints.

The data of every test, worked out by hand (Asia/Shanghai, the world's clock at
2026-03-15 12:00 local):

- belt B1: totalizer 100.000 t at 11:10 (the first reading: no production), 100.500 t
  at 11:20 (+500 kg), 101.250 t at 11:30 (+750 kg): hour 11:00 measured 1,250 kg;
- skip K1: trips of 8.250 t at 11:15 and 7.750 t at 11:25: hour 11:00 16,000 kg;
- manual production on B1: 2.000 t from 09:00 to 10:00: hour 09:00 manual 2,000 kg.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, event, func, insert, select, text, update

from coalwatch.audit import checkpoints
from coalwatch.audit.models import AuditEntry
from coalwatch.audit.service import _digest
from coalwatch.cli import main
from coalwatch.config import Settings
from coalwatch.integrity.keys import center_key
from coalwatch.integrity.models import SignedBatch
from coalwatch.integrity.service import IntegrityJob, verify_all
from coalwatch.storage.models import DailyProduction, HourlyProduction, Record
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, totalizer, trip, world

LOCAL = timedelta(hours=8)


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
        w.ok(
            w.post(
                "/mines/M1/manual-production",
                {
                    "point": "B1",
                    "start": _at(9, 0).isoformat(),
                    "end": _at(10, 0).isoformat(),
                    "gross_t": "2.000",
                    "reason": "皮带秤故障",
                },
            )
        )
        yield w


def _settings(w: World, tmp_path: Path) -> Settings:
    return Settings(database_url=w.url, var_dir=tmp_path, secret_key="k")


def _run(w: World, tmp_path: Path, *, full: bool = True) -> checkpoints.Broken | object:
    state = w.client.app.state.coalwatch  # type: ignore[attr-defined]
    return verify_all(state.sessions, _settings(w, tmp_path), w.clock(), full=full)


def _sql(w: World, *statements: object) -> None:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        for statement in statements:
            session.execute(statement)  # type: ignore[call-overload]
    engine.dispose()


def _findings(w: World, tmp_path: Path) -> list[str]:
    outcome = _run(w, tmp_path)
    return [str(f) for f in outcome.figures.findings]  # type: ignore[attr-defined]


def _insert_unsigned(w: World, *, like: int, seq: int, type: str, **values: object) -> None:
    """A record written into the database directly (no upload brought it), for the
    station, point and time of the stored record ``like``."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        model = session.scalars(select(Record).where(Record.seq == like)).one()
        session.execute(
            insert(Record).values(
                mine_id=model.mine_id,
                station_id=model.station_id,
                seq=seq,
                ts=model.ts,
                type=type,
                point_id=model.point_id if type != "heartbeat" else None,
                received_at=model.received_at,
                **values,
            )
        )
    engine.dispose()


def test_untouched_data_agree(w: World, tmp_path: Path) -> None:
    outcome = _run(w, tmp_path)
    assert outcome.figures.ok and outcome.audit is None  # type: ignore[attr-defined]
    # one upload, its five records; hours 09:00 (manual) and 11:00 of B1, 11:00 of K1
    assert (outcome.figures.batches, outcome.figures.records) == (1, 5)  # type: ignore[attr-defined]
    assert outcome.figures.hours == 3  # type: ignore[attr-defined]
    assert [a for a in w.alarms() if a["type"] == "data_tamper"] == []


def test_an_updated_record_is_named(w: World, tmp_path: Path) -> None:
    _sql(w, update(Record).where(Record.seq == 2).values(value_kg=9250, increment_kg=9250))
    found = _findings(w, tmp_path)
    assert any("seq 2" in f and "value_kg is 9250, the station signed 8250" in f for f in found)
    alarms = [a for a in w.alarms() if a["type"] == "data_tamper"]
    assert [(a["mine"], a["severity"]) for a in alarms] == [("M1", "critical")]


def test_an_updated_increment_breaks_its_hour(w: World, tmp_path: Path) -> None:
    # the totalizer reading itself is untouched: its production is what was changed
    _sql(w, update(Record).where(Record.seq == 5).values(increment_kg=1750))
    found = _findings(w, tmp_path)
    # records 500 + 1,750 = 2,250 kg against the rollup's 1,250 kg
    assert any(
        "hour 2026-03-15 11:00 of point B1" in f
        and "holds 1.250 t measured" in f
        and "add up to 2.250 t" in f
        for f in found
    ), found


def test_an_updated_hourly_rollup_is_named(w: World, tmp_path: Path) -> None:
    _sql(
        w,
        update(HourlyProduction)
        .where(HourlyProduction.hour_start == _at(11, 0))
        .values(measured_kg=HourlyProduction.measured_kg + 5000),
    )
    found = _findings(w, tmp_path)
    # B1: 6.250 t stored against 1.250 t; K1: 21.000 t against 16.000 t
    assert any("point B1" in f and "holds 6.250 t measured" in f for f in found), found
    assert any("point K1" in f and "holds 21.000 t measured" in f for f in found), found
    # and the day no longer is the sum of its hours: B1 3.250 t stored, hours 8.250 t
    assert any("day 2026-03-15 of point B1" in f and "hours add up to 8.250 t" in f for f in found)


def test_an_updated_daily_rollup_is_named(w: World, tmp_path: Path) -> None:
    _sql(
        w,
        update(DailyProduction)
        .where(DailyProduction.local_day == _at(12, 0).date())
        .values(measured_kg=0),
    )
    found = _findings(w, tmp_path)
    # K1's day: 0 kg stored against its hours' 16.000 t
    assert any(
        "day 2026-03-15 of point K1" in f and "holds 0.000 t, its hours add up to 16.000 t" in f
        for f in found
    ), found


def test_an_updated_running_total_is_named(w: World, tmp_path: Path) -> None:
    # March 2026 of M1: 1,250 + 16,000 kg measured, 2,000 kg manual, k = 0: 19.250 t raw;
    # one tonne of raw coal (10,000,000 units) written over it
    _sql(
        w,
        text(
            "UPDATE mine_period_totals SET raw_units = raw_units + 10000000 WHERE period = 'month'"
        ),
    )
    found = _findings(w, tmp_path)
    assert found == [
        "month 2026-03 of mine M1: the running total holds 19.250 t gross, "
        "20.2500000 t raw; its daily rollups add up to 19.250 t gross, 19.2500000 t raw"
    ], found
    assert [a["mine"] for a in w.alarms() if a["type"] == "data_tamper"] == ["M1"]


def test_a_deleted_record_is_named(w: World, tmp_path: Path) -> None:
    _sql(w, delete(Record).where(Record.seq == 4))
    found = _findings(w, tmp_path)
    assert any("seq 4 of station S1" in f and "no longer stored" in f for f in found), found
    # and K1's hour holds 16.000 t while its remaining trip weighs 8.250 t
    assert any("point K1" in f and "add up to 8.250 t" in f for f in found), found


def test_a_record_without_a_signed_upload_is_named(w: World, tmp_path: Path) -> None:
    # a trip of 10 t that no station signed, beside station S1's trip of seq 2
    _insert_unsigned(w, like=2, seq=99, type="trip", value_kg=10_000, increment_kg=10_000)
    found = _findings(w, tmp_path)
    assert any("seq 99" in f and "no signed upload brought it" in f for f in found), found


def test_a_changed_upload_fails_its_signature(w: World, tmp_path: Path) -> None:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        (batch,) = session.scalars(select(SignedBatch)).all()
        assert b'"net_t":8.25' in batch.body
        batch.body = batch.body.replace(b'"net_t":8.25', b'"net_t":9.25')
    engine.dispose()
    found = _findings(w, tmp_path)
    assert any("upload" in f and "signature does not match" in f for f in found), found


def test_the_alarm_ends_when_a_full_run_finds_the_data_agree(w: World, tmp_path: Path) -> None:
    _sql(w, update(Record).where(Record.seq == 2).values(value_kg=9250))
    assert _findings(w, tmp_path)
    _sql(w, update(Record).where(Record.seq == 2).values(value_kg=8250))
    assert _findings(w, tmp_path) == []
    (alarm,) = [a for a in w.alarms() if a["type"] == "data_tamper"]
    assert alarm["end"] is not None


def test_incremental_runs_reprove_what_came_since(w: World, tmp_path: Path) -> None:
    first = _run(w, tmp_path, full=False)
    assert first.figures.batches == 1  # type: ignore[attr-defined]
    w.ok(w.upload("S1", [totalizer(6, _at(11, 40), "B1", "101.750")]))
    second = _run(w, tmp_path, full=False)
    # only the new upload; its hour re-added: 500 + 750 + 500 = 1,750 kg, as stored
    assert (second.figures.batches, second.figures.records) == (1, 1)  # type: ignore[attr-defined]
    assert second.figures.ok  # type: ignore[attr-defined]
    # a record inserted after the last run is found by the next incremental one
    _insert_unsigned(w, like=6, seq=7, type="heartbeat")
    third = _run(w, tmp_path, full=False)
    assert any("seq 7" in str(f) for f in third.figures.findings)  # type: ignore[attr-defined]


def test_data_tamper_is_handled_by_the_supervising_unit_only(w: World, tmp_path: Path) -> None:
    _sql(w, update(Record).where(Record.seq == 2).values(value_kg=9250))
    _findings(w, tmp_path)
    (alarm,) = [a for a in w.alarms() if a["type"] == "data_tamper"]
    mine_token = w.token_for("CO1", write=True)
    county_token = w.token_for("C1", write=True)
    w.ok(w.post(f"/alarms/{alarm['id']}/ack", {}, token=mine_token))
    refused = w.post(f"/alarms/{alarm['id']}/handle", {"result": "已核实"}, token=mine_token)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["decided_by"] == "supervising unit"
    handled = w.post(f"/alarms/{alarm['id']}/handle", {"result": "已核实"}, token=county_token)
    assert handled.status_code == 200, handled.text


def _rechain(w: World, from_id: int) -> None:
    """What an attacker with database rights does after editing an entry: recompute
    every hash from it on, so the chain itself looks intact."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        prev = None
        for entry in entries:
            if entry.id >= from_id:
                assert prev is not None
                entry.prev_hash = prev
                entry.hash = _digest(
                    prev,
                    entry.at,
                    entry.actor,
                    entry.action,
                    entry.entity,
                    entry.entity_key,
                    entry.detail,
                )
            prev = entry.hash
    engine.dispose()


def _checkpoint(w: World, tmp_path: Path) -> None:
    outcome = IntegrityJob(_settings(w, tmp_path))(
        w.client.app.state.coalwatch.sessions,  # type: ignore[attr-defined]
        w.clock(),
    )
    assert outcome is not None and outcome.audit is None


def test_a_deleted_audit_tail_is_named(w: World, tmp_path: Path) -> None:
    _checkpoint(w, tmp_path)
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        newest = session.scalar(select(func.max(AuditEntry.id)))
        session.execute(delete(AuditEntry).where(AuditEntry.id >= newest - 1))
    engine.dispose()
    outcome = _run(w, tmp_path)
    broken = outcome.audit  # type: ignore[attr-defined]
    assert broken is not None and "entries were removed" in broken.reason
    assert f"up to entry {newest}" in broken.reason
    (alarm,) = [a for a in w.alarms() if a["type"] == "data_tamper"]
    assert alarm["mine"] is None  # the center's own alarm


def test_a_rechained_audit_middle_is_named(w: World, tmp_path: Path) -> None:
    _checkpoint(w, tmp_path)
    _sql(w, update(AuditEntry).where(AuditEntry.id == 3).values(actor="someone else"))
    _rechain(w, 3)
    outcome = _run(w, tmp_path)
    broken = outcome.audit  # type: ignore[attr-defined]
    assert broken is not None and "rewritten between entry 1 and entry" in broken.reason


def test_deleted_checkpoints_are_still_found_in_the_file(w: World, tmp_path: Path) -> None:
    _checkpoint(w, tmp_path)
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        newest = session.scalar(select(func.max(AuditEntry.id)))
        session.execute(delete(AuditEntry).where(AuditEntry.id == newest))
        session.execute(text("DELETE FROM audit_checkpoints"))
    engine.dispose()
    broken = _run(w, tmp_path).audit  # type: ignore[attr-defined]
    assert broken is not None and "entries were removed" in broken.reason


def test_a_checkpoint_signed_by_another_key_is_refused(w: World, tmp_path: Path) -> None:
    _checkpoint(w, tmp_path)
    w.ok(w.put("/mines/M1/thresholds", {"name": "no_data_minutes", "value": 5}))
    forger = center_key(Settings(database_url=w.url, var_dir=tmp_path / "other"))
    assert forger is not None
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        checkpoints.make_checkpoint(session, forger, w.clock(), None)
    engine.dispose()
    broken = _run(w, tmp_path).audit  # type: ignore[attr-defined]
    assert broken is not None and "not signed by this center's key" in broken.reason


def _cli(url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COALWATCH_DATABASE_URL": url, "COALWATCH_VAR_DIR": str(var_dir)}
    return subprocess.run(
        [sys.executable, "-m", "coalwatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# the command's exit status and wording, in a process of its own; what it finds on each
# backend is the tamper cases' (the same command, in this process, on both)
@SQLITE_ONLY
def test_the_command_exits_0_when_all_agree_and_1_naming_the_first(
    w: World, tmp_path: Path
) -> None:
    _checkpoint(w, tmp_path)
    done = _cli(w.url, tmp_path, "verify")
    assert done.returncode == 0, done.stderr
    assert "1 uploads and 5 records re-proved" in done.stdout
    assert "1 signed checkpoints hold" in done.stdout
    _sql(w, update(Record).where(Record.seq == 3).values(value_kg=100_600))
    done = _cli(w.url, tmp_path, "verify")
    assert done.returncode == 1
    assert "seq 3" in done.stderr and "the station signed 100500" in done.stderr
    audit = _cli(w.url, tmp_path, "audit", "verify")
    assert audit.returncode == 0 and "signed checkpoints hold" in audit.stdout


def _delete_audit_tail(w: World) -> None:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        newest = session.scalar(select(func.max(AuditEntry.id)))
        session.execute(delete(AuditEntry).where(AuditEntry.id >= newest - 1))
    engine.dispose()


def _rechain_middle(w: World) -> None:
    _sql(w, update(AuditEntry).where(AuditEntry.id == 3).values(actor="someone else"))
    _rechain(w, 3)


#: each way of changing the stored data behind the program's back, what `coalwatch
#: verify` names first for it, and the mine of the data_tamper alarm (None: the
#: center's own, for its audit log)
TAMPERS: dict[str, tuple[Callable[[World], None], str, str | None]] = {
    # trip seq 2 weighed 8.250 t; 9.250 t written over it
    "updated record": (
        lambda w: _sql(w, update(Record).where(Record.seq == 2).values(value_kg=9250)),
        "the station signed 8250",
        "M1",
    ),
    # hour 11:00: B1 1.250 t + 5 t = 6.250 t, K1 16.000 t + 5 t = 21.000 t
    "updated hourly rollup": (
        lambda w: _sql(
            w,
            update(HourlyProduction)
            .where(HourlyProduction.hour_start == _at(11, 0))
            .values(measured_kg=HourlyProduction.measured_kg + 5000),
        ),
        "holds 6.250 t measured",
        "M1",
    ),
    # K1's day: 0 kg stored, its hour 16.000 t
    "updated daily rollup": (
        lambda w: _sql(
            w,
            update(DailyProduction)
            .where(DailyProduction.local_day == _at(12, 0).date())
            .values(measured_kg=0),
        ),
        "holds 0.000 t, its hours add up to 16.000 t",
        "M1",
    ),
    "deleted record": (
        lambda w: _sql(w, delete(Record).where(Record.seq == 4)),
        "no longer stored",
        "M1",
    ),
    "inserted record without a signature": (
        lambda w: _insert_unsigned(
            w, like=2, seq=99, type="trip", value_kg=10_000, increment_kg=10_000
        ),
        "no signed upload brought it",
        "M1",
    ),
    "deleted audit tail": (_delete_audit_tail, "entries were removed", None),
    "re-chained audit middle": (_rechain_middle, "the chain was rewritten", None),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_each_tamper_is_named_by_the_commands_and_alarmed(
    w: World,
    tmp_path: Path,
    tamper: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    change, named, mine = TAMPERS[tamper]
    monkeypatch.setenv("COALWATCH_DATABASE_URL", w.url)
    monkeypatch.setenv("COALWATCH_VAR_DIR", str(tmp_path))
    _checkpoint(w, tmp_path)
    assert main(["verify"]) == 0 and main(["audit", "verify"]) == 0
    capsys.readouterr()
    change(w)
    assert main(["verify"]) == 1
    assert named in capsys.readouterr().out
    if mine is None:
        assert main(["audit", "verify"]) == 1
        assert named in capsys.readouterr().err
    alarms = [a for a in w.alarms() if a["type"] == "data_tamper"]
    assert mine in {a["mine"] for a in alarms} and all(a["end"] is None for a in alarms)


def test_checkpoints_kept_upstream_name_a_log_cut_with_its_checkpoints(
    w: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A center that cut its audit log and removed its own checkpoints (table and file)
    passes on its own; against the checkpoints its upstream kept, the cut is named."""
    monkeypatch.setenv("COALWATCH_DATABASE_URL", w.url)
    monkeypatch.setenv("COALWATCH_VAR_DIR", str(tmp_path))
    _checkpoint(w, tmp_path)
    kept = tmp_path / "upstream.jsonl"
    with transaction(w.client.app.state.coalwatch.sessions) as session:  # type: ignore[attr-defined]
        own = checkpoints.log_file(tmp_path, session)
    shutil.copy(own, kept)
    _delete_audit_tail(w)
    _sql(w, text("DELETE FROM audit_checkpoints"))
    own.unlink()
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--checkpoints", str(kept)]) == 1
    assert "entries were removed" in capsys.readouterr().err


# SQLite serialises the verification and ingest (BEGIN IMMEDIATE): only PostgreSQL lets a
# batch commit while the figures are being read
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_committed_while_the_figures_are_verified_is_no_finding(
    w: World, tmp_path: Path
) -> None:
    """The verification reads records, uploads and rollups in one snapshot: a batch that
    commits between its reading of the records and of the hourly rollups (a center under
    load) is not yet verified, not a rollup that disagrees with its records."""
    engine = w.client.app.state.coalwatch.sessions.kw["bind"]  # type: ignore[attr-defined]
    arrived: list[int] = []
    verifying = threading.get_ident()

    def a_batch_arrives(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if threading.get_ident() == verifying and not arrived and "hourly_production" in statement:
            arrived.append(0)
            arrived[0] = w.upload("S1", [totalizer(6, _at(11, 40), "B1", "102.000")]).status_code

    event.listen(engine, "before_cursor_execute", a_batch_arrives)
    try:
        outcome = _run(w, tmp_path)
    finally:
        event.remove(engine, "before_cursor_execute", a_batch_arrives)
    assert arrived == [200]
    assert outcome.figures.findings == []  # type: ignore[attr-defined]
    assert [a for a in w.alarms() if a["type"] == "data_tamper"] == []
    # the next round proves the batch that came since
    assert _run(w, tmp_path, full=False).figures.ok  # type: ignore[attr-defined]
