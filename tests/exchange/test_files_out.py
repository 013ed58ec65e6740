"""Collection files out: each kind in the layout's shape, with the figures worked out by
hand in conftest.py, written whole, on change or on their interval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.exchange import repository
from coalwatch.exchange.layout import load_layout
from coalwatch.exchange.service import write_due
from coalwatch.exchange.writer import Schedule, Writer
from tests.conftest import SQLITE_ONLY
from tests.exchange.conftest import at
from tests.support.world import World

#: cumulative every minute and 10-minute statistics, so that 11:31 has both at hand
SCHEDULE = Schedule(realtime_s=30, cumulative_s=60, statistics_s=600)


def sessions_of(w: World) -> sessionmaker[Session]:
    state: Any = w.client.app.state.coalwatch  # type: ignore[attr-defined]
    return state.sessions  # type: ignore[no-any-return]


def write(w: World, directory: Path, encoding: str = "gb18030") -> list[str]:
    writer = Writer(load_layout(), directory, encoding, SCHEDULE)
    return [f.name for f in write_due(sessions_of(w), writer, w.clock())]


def text(directory: Path, name: str, encoding: str = "gb18030") -> str:
    return (directory / name).read_bytes().decode(encoding)


def test_every_kind_in_the_layout_shape(mine: World, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    [alarm] = mine.alarms(type="enclosure_open")
    names = write(mine, tmp_path)
    assert names == [
        "M1_CDSS_20260315113100.txt",
        "M1_SSSJ_20260315113100.txt",
        "M1_LJSJ_20260315113100.txt",
        "M1_TJSJ_20260315113000.txt",  # the 10 minutes that ended at 11:30
        "M1_BJSJ_20260315113100.txt",
    ]
    # header: mine, name, file time, layout version, record count; ';' between fields,
    # '~' after each record
    assert text(tmp_path, names[0]) == (
        "M1;M1 矿;2026-03-15 11:31:00;1;2~\n"
        "B1;B1 皮带秤;1;t;;~\n"  # belt: kind code 1; no rollover, no minimum trip
        "K1;K1;2;t;;~\n"  # skip: kind code 2
    )
    assert text(tmp_path, names[1]) == (
        "M1;M1 矿;2026-03-15 11:31:00;1;2~\n"
        # the last totalizer reading and its flow (600.5 t/h), no conveyor sensor
        "B1;1;2026-03-15 11:30:00;101.250;;600.500;~\n"
        # the last trip's net weight
        "K1;2;2026-03-15 11:25:00;;7.750;;~\n"
    )
    # gross 1.250 + 16.000 = 17.250 t; raw 17.250 × 0.955 = 16.47375 → 16.474 t
    assert text(tmp_path, names[2]) == (
        "M1;M1 矿;2026-03-15 11:31:00;1;4~\n"
        "H;2026-03-15 11:00:00;17.250;16.474;0.000~\n"
        "D;2026-03-15 00:00:00;17.250;16.474;0.000~\n"
        "M;2026-03-01 00:00:00;17.250;16.474;0.000~\n"
        "Y;2026-01-01 00:00:00;17.250;16.474;0.000~\n"
    )
    # [11:20, 11:30): B1's sample at 11:20 (+0.500 t, 640 t/h), K1's trip at 11:25
    assert text(tmp_path, names[3]) == (
        "M1;M1 矿;2026-03-15 11:30:00;1;2~\n"
        "B1;2026-03-15 11:20:00;2026-03-15 11:30:00;0.500;640.000;1~\n"
        "K1;2026-03-15 11:20:00;2026-03-15 11:30:00;7.750;;1~\n"
    )
    assert text(tmp_path, names[4]) == (
        "M1;M1 矿;2026-03-15 11:31:00;1;1~\n"
        # enclosure_open has code 302; state 0: active
        f"{alarm['id']};302;B1;{alarm['severity']};2026-03-15 11:28:00;;"
        f"{alarm['value'] or ''};{alarm['threshold'] or ''};0~\n"
    )
    # GB18030 by default: 矿 is BF F3; written whole (no temporary file left)
    assert b"M1 \xbf\xf3" in (tmp_path / names[0]).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    with sessions_of(mine)() as session:
        ledger = repository.ledger(session)
        assert [f.name for f in ledger] == names
        assert all(f.sent_at is None and f.size > 0 for f in ledger)


def test_files_follow_changes_only_when_due(mine: World, tmp_path: Path) -> None:
    write(mine, tmp_path)
    assert write(mine, tmp_path) == []  # the same second: nothing due
    [alarm] = mine.alarms(type="enclosure_open")
    mine.clock.now = at(11, 31, 20)
    mine.ok(mine.client.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=mine.headers()))
    mine.clock.now = at(11, 31, 40)
    # real-time every 30 s (the slot of 11:31:30); the acknowledgement is a transition
    # (state 1); the points did not change, nor the minute or the 10 minutes
    assert write(mine, tmp_path) == ["M1_SSSJ_20260315113130.txt", "M1_BJSJ_20260315113140.txt"]
    assert text(tmp_path, "M1_BJSJ_20260315113140.txt").splitlines()[1].endswith(";1~")
    mine.ok(mine.post("/mines/M1/points", {"code": "B2", "name": "二号;皮带~", "kind": "belt"}))
    mine.clock.now = at(11, 31, 50)
    assert write(mine, tmp_path) == ["M1_CDSS_20260315113150.txt"]
    # a separator inside a name is written as its full-width twin
    assert "B2;二号；皮带～;1;t;;~" in text(tmp_path, "M1_CDSS_20260315113150.txt")


@SQLITE_ONLY  # an encoding: the same on either database
def test_utf8_by_setting(mine: World, tmp_path: Path) -> None:
    [name, *_] = write(mine, tmp_path, encoding="utf-8")
    assert "M1 矿".encode() in (tmp_path / name).read_bytes()
