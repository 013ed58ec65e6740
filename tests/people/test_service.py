"""People, certificates, rosters and routine checks on the center, on SQLite and
PostgreSQL. Asia/Shanghai (UTC+8); shifts 夜班 00–08, 早班 08–16, 中班 16–24."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from coalwatch.alarms.models import Alarm
from coalwatch.auth.permissions import ALL
from coalwatch.auth.principal import Principal
from coalwatch.duty import service as duty
from coalwatch.duty.schemas import HandoverIn
from coalwatch.errors import Forbidden
from coalwatch.jobs.scheduler import run_once
from coalwatch.people import service as people
from coalwatch.people.schemas import DecisionIn, SignOnIn
from coalwatch.routines import service as routines
from coalwatch.routines.schemas import RoutineIn
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users.models import User
from tests.support.world import World, world

PASSWORD = "Xyzzy-4471-q"


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url, now=datetime(2026, 3, 15, 4, 0, tzinfo=UTC)) as w:
        w.mine("M1")
        yield w


class Db:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    def user(self, username: str) -> Principal:
        with transaction(self.sessions) as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            return Principal(
                name=username,
                scope_path=None,
                permissions=frozenset({ALL}),
                kind="user",
                user_id=user.id,
            )

    def alarms(self, type_: str) -> list[Alarm]:
        with transaction(self.sessions) as session:
            rows = list(session.scalars(select(Alarm).where(Alarm.type == type_)))
            session.expunge_all()
            return rows


@pytest.fixture
def db(w: World) -> Iterator[Db]:
    d = Db(w.url)
    yield d
    d.engine.dispose()


def person(w: World, unit: str, name: str, user: str | None, issued_on: str | None) -> int:
    body: dict[str, Any] = {"name": name, "id_number": "110101199003074518", "position": "operator"}
    if user:
        body["user"] = user
    created = w.ok(w.post(f"/units/{unit}/people", body))
    if issued_on:
        w.ok(
            w.post(
                f"/people/{created['id']}/certificates",
                {"number": f"SX-{name}", "issued_by": "晋城市煤炭局", "issued_on": issued_on},
            )
        )
    return int(created["id"])


def handover() -> HandoverIn:
    return HandoverIn.model_validate(
        {
            "incoming": "someone",
            "checks": [
                {"item": c, "ok": True}
                for c in ("system", "network", "workplace", "records", "unfinished")
            ],
        }
    )


def test_an_expired_certificate_refuses_duty_and_maintenance(w: World, db: Db) -> None:
    w.users([("op1", "C1", ["duty_operator"]), ("op2", "C1", ["duty_operator"])], PASSWORD)
    person(w, "M1", "张三", "op1", "2024-12-10")
    [registered] = w.ok(w.get("/people", unit="M1"))["items"]
    assert registered["id_number"] == "110***********4518"  # stored masked
    assert registered["valid_through"] == "2026-12-09"
    assert registered["certificates"][0]["warning_from"] == "2026-11-09"
    # 2026-12-10 08:30 local: the certificate expired the day before
    w.clock.now = datetime(2026, 12, 10, 0, 30, tzinfo=UTC)
    assert w.ok(w.get("/people", unit="M1"))["items"][0]["state"] == "expired"
    op1, op2 = db.user("op1"), db.user("op2")
    with transaction(db.sessions) as session, pytest.raises(Forbidden) as refused:
        duty.create_handover(session, op1, "M1", handover(), w.clock())
    assert refused.value.code == "uncertified" and "已过期" in refused.value.message
    with transaction(db.sessions) as session, pytest.raises(Forbidden):
        routines.record(
            session,
            op1,
            "M1",
            RoutineIn(kind="line_check", taken_back_by="op2"),
            w.clock(),
        )
    # op2 is not in the register the mine keeps: refused too
    with transaction(db.sessions) as session, pytest.raises(Forbidden) as unregistered:
        duty.create_handover(session, op2, "M1", handover(), w.clock())
    assert "未登记" in unregistered.value.message
    # renewed after retraining on 2026-12-10: two years from then, through 2028-12-09
    cert = registered["certificates"][0]["id"]
    renewed = w.ok(
        w.post(
            f"/certificates/{cert}/renewals",
            {"renewed_by": "晋城市煤炭局", "renewed_on": "2026-12-10"},
        )
    )
    assert renewed["valid_through"] == "2028-12-09" and renewed["state"] == "valid"
    with transaction(db.sessions) as session:
        duty.create_handover(session, op1, "M1", handover(), w.clock())


def test_a_county_night_shift_with_two_signed_on_raises_the_staffing_alarm(
    w: World, db: Db
) -> None:
    """A county center keeps 3 a shift (province regulation 第九条)."""
    w.users([(u, "C1", ["duty_operator"]) for u in ("zhao", "qian", "sun")], PASSWORD)
    ids = [person(w, "C1", name, name, "2026-01-05") for name in ("zhao", "qian", "sun")]
    for pid in ids:
        w.ok(w.post("/units/C1/roster", {"day": "2026-03-16", "shift": "夜班", "person": pid}))
    assert w.ok(w.get("/units/C1/staffing"))["min_staff"] == 3
    # 2026-03-15 23:55 local = 15:55 UTC: zhao and qian sign on for the 夜班 of the 16th
    w.clock.now = datetime(2026, 3, 15, 15, 55, tzinfo=UTC)
    signers = [db.user(name) for name in ("zhao", "qian")]
    with transaction(db.sessions) as session:
        for signer in signers:
            people.sign(session, signer, "C1", "on", SignOnIn(), w.clock())
    sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    # the shift starts at 00:00 local (16:00 UTC); the grace is 5 minutes: 00:04:59 no
    run_once(sessions, None, datetime(2026, 3, 15, 16, 4, 59, tzinfo=UTC))
    assert db.alarms("understaffed_shift") == []
    # 00:05:00 local: 2 signed on, 3 at least
    run_once(sessions, None, datetime(2026, 3, 15, 16, 5, tzinfo=UTC))
    [alarm] = db.alarms("understaffed_shift")
    assert (alarm.value, alarm.threshold, alarm.mine_id) == ("2", "3", None)
    assert alarm.start == datetime(2026, 3, 15, 16, 5, tzinfo=UTC)
    [late] = db.alarms("late_sign_on")
    assert "sun" in (late.detail or "")
    # sun arrives: the shift is staffed, the alarm ends
    w.clock.now = datetime(2026, 3, 15, 16, 20, tzinfo=UTC)
    sun = db.user("sun")
    with transaction(db.sessions) as session:
        signed = people.sign(session, sun, "C1", "on", SignOnIn(), w.clock())
    assert signed.late is True
    assert db.alarms("late_sign_on")[0].end == w.clock()  # ended as sun signed on
    run_once(sessions, None, w.clock())
    assert db.alarms("understaffed_shift")[0].end is not None
    # a unit may raise its minimum, never lower it below 3
    assert w.put("/units/C1/staffing", {"min_staff": 2}).status_code == 422
    assert (
        w.ok(w.put("/units/C1/staffing", {"min_staff": 4, "early_minutes": 30}))["min_staff"] == 4
    )


def test_an_expired_certificate_on_duty_raises_uncertified_on_duty(w: World, db: Db) -> None:
    w.users([("zhou", "C1", ["duty_operator"])], PASSWORD)
    pid = person(w, "M1", "zhou", "zhou", "2024-03-20")  # valid through 2026-03-19
    w.ok(w.post("/units/M1/roster", {"day": "2026-03-19", "shift": "中班", "person": pid}))
    w.clock.now = datetime(2026, 3, 19, 7, 55, tzinfo=UTC)  # 15:55 local on the 19th
    zhou = db.user("zhou")
    with transaction(db.sessions) as session:
        people.sign(session, zhou, "M1", "on", SignOnIn(), w.clock())
    sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    run_once(sessions, None, datetime(2026, 3, 19, 15, 59, tzinfo=UTC))  # 23:59 local
    assert db.alarms("uncertified_on_duty") == []
    # midnight local: the 20th, the certificate has expired while zhou is on duty
    run_once(sessions, None, datetime(2026, 3, 19, 16, 0, tzinfo=UTC))
    [alarm] = db.alarms("uncertified_on_duty")
    assert alarm.value == "expired"


def test_a_ups_test_of_50_minutes_asks_for_new_batteries(w: World) -> None:
    done = w.ok(
        w.post(
            "/mines/M1/routines",
            {"kind": "ups_runtime", "minutes": 50, "performed_by": "李四", "taken_back_by": "王五"},
        )
    )
    assert done["verdict"] == "replace_batteries"
    same = w.post(
        "/mines/M1/routines",
        {"kind": "line_check", "performed_by": "王五", "taken_back_by": "王五"},
    )
    assert same.status_code == 422  # both signatures: two different people


def test_a_line_check_not_done_for_3_days_is_overdue(w: World, db: Db) -> None:
    # never done: to do, not done (due 03-17 counted from the mine's joining on 03-15)
    items = w.ok(w.get("/routines/board", mine="M1"))["items"]
    never = next(i for i in items if i["kind"] == "attenuation_test")
    assert (never["last"], never["state"]) == (None, "to_do")
    # done 2026-03-15 12:00 local; due by 03-17; overdue on 03-18
    w.ok(
        w.post(
            "/mines/M1/routines",
            {"kind": "line_check", "performed_by": "李四", "taken_back_by": "王五"},
        )
    )

    def line() -> dict[str, Any]:
        items = w.ok(w.get("/routines/board", mine="M1"))["items"]
        return next(i for i in items if i["kind"] == "line_check")

    assert (line()["due"], line()["state"]) == ("2026-03-17", "due")  # within 3 days
    w.clock.now = datetime(2026, 3, 17, 16, 0, tzinfo=UTC)  # 03-18 00:00 local
    assert line()["state"] == "overdue"
    w.tick()
    [alarm] = [a for a in db.alarms("routine_overdue") if a.subject == "line_check"]
    assert alarm.threshold == "2026-03-17"


def calibrate(w: World, day: str, indicated_t: str) -> None:
    body = {
        "point": "B1",
        "calibrated_on": day,
        "old_interval": "1.0000",
        "first_actual_t": "5.000",
        "first_indicated_t": indicated_t,
        "second_actual_t": "5.000",
        "second_indicated_t": "5.001",
        "calibrated_by": "王工",
    }
    w.ok(w.post("/mines/M1/ledger/calibrations", body))


def test_a_calibration_error_beyond_the_class_is_a_metering_anomaly(w: World, db: Db) -> None:
    # error = (5.010 − 5.000) / 5.000 × 100 = 0.2 %: within class 0.5, no alarm
    calibrate(w, "2026-03-01", "5.010")
    assert db.alarms("metering_anomaly") == []
    # (5.050 − 5.000) / 5.000 × 100 = 1.000 %: beyond ±0.5 %
    calibrate(w, "2026-03-08", "5.050")
    [alarm] = db.alarms("metering_anomaly")
    assert (alarm.value, alarm.threshold) == ("1.000 %", "0.5 %")
    board = w.ok(w.get("/routines/board", mine="M1"))["items"]
    [cal] = [i for i in board if i["kind"] == "calibration"]
    assert (cal["interval_days"], cal["due"]) == (15, "2026-03-23")  # 03-08 + 15 days
    # a second one beyond in a row: (4.960 − 5.000) / 5.000 × 100 = −0.8 %; the interval
    # halves to 7 days: 03-14 + 7 = 03-21
    calibrate(w, "2026-03-14", "4.960")
    board = w.ok(w.get("/routines/board", mine="M1"))["items"]
    [cal] = [i for i in board if i["kind"] == "calibration"]
    assert (cal["interval_days"], cal["due"]) == (7, "2026-03-21")


def test_a_substitution_waits_for_the_leader_and_a_shift_needs_its_handover_signed(
    w: World, db: Db
) -> None:
    w.users([(u, "C1", ["duty_operator"]) for u in ("zhao", "qian", "boss")], PASSWORD)
    zhao = person(w, "M1", "zhao", "zhao", "2026-01-05")
    qian = person(w, "M1", "qian", "qian", "2026-01-05")
    leader = w.ok(
        w.post(
            "/units/M1/people",
            {
                "name": "boss",
                "id_number": "110101197001011234",
                "position": "leader",
                "user": "boss",
            },
        )
    )
    w.ok(w.post("/units/M1/roster", {"day": "2026-03-15", "shift": "早班", "person": zhao}))
    asked = w.ok(
        w.post(
            "/units/M1/substitutions",
            {
                "day": "2026-03-15",
                "shift": "早班",
                "person": qian,
                "replaces": zhao,
                "reason": "病假",
            },
        )
    )
    assert asked["status"] == "requested"
    by_zhao, by_boss = db.user("zhao"), db.user("boss")
    with transaction(db.sessions) as session, pytest.raises(Forbidden):
        people.decide_substitution(
            session, by_zhao, asked["id"], DecisionIn(approve=True), w.clock()
        )
    with transaction(db.sessions) as session:
        decided = people.decide_substitution(
            session, by_boss, asked["id"], DecisionIn(approve=True), w.clock()
        )
    assert decided.status == "rostered" and leader["position"] == "leader"
    roster = w.ok(w.get("/units/M1/roster", **{"from": "2026-03-15", "to": "2026-03-15"}))
    [early] = [s for s in roster["shifts"] if s["shift"] == "早班"]
    assert {e["person_name"]: e["status"] for e in early["entries"]} == {
        "zhao": "replaced",
        "qian": "rostered",
    }
    # the 早班 ends 16:00 local (08:00 UTC); no handover by 16:30: unsigned_handover
    sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    run_once(sessions, None, datetime(2026, 3, 15, 8, 29, tzinfo=UTC))
    assert db.alarms("unsigned_handover") == []
    run_once(sessions, None, datetime(2026, 3, 15, 8, 30, tzinfo=UTC))
    [alarm] = db.alarms("unsigned_handover")
    assert alarm.start == datetime(2026, 3, 15, 8, 30, tzinfo=UTC)
