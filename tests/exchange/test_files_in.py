"""Reading files back: a file that does not hold what its name and layout promise is
refused once with the reason; a file of a mine or point not known yet waits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from coalwatch.exchange import repository
from coalwatch.exchange.layout import load_layout
from coalwatch.exchange.reader import Reader
from coalwatch.ingest.service import IngestLimits
from tests.exchange.conftest import at
from tests.exchange.test_files_out import sessions_of
from tests.support.world import world

PARAMETERS = "M1;M1 矿;2026-03-15 11:00:00;1;1~\nB1;B1;1;t;;~\n"
REALTIME = "M1;M1 矿;2026-03-15 11:10:00;1;1~\nB1;1;2026-03-15 11:10:00;100.000;;;1~\n"


def reader() -> Reader:
    return Reader(load_layout(), "utf-8", IngestLimits(timedelta(seconds=60), 5000))


def drop(inbox: Path, name: str, text: str) -> None:
    inbox.mkdir(exist_ok=True)
    (inbox / name).write_bytes(text.encode())


def test_bad_files_are_refused_with_the_reason(sqlite_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    with world(sqlite_url, now=at(11, 31)) as w:
        w.mine("M1", belts=(), station=None)
        drop(inbox, "M1_CDSS_20260315110000.txt", PARAMETERS)
        drop(inbox, "M2_SSSJ_20260315111000.txt", REALTIME)  # the header says M1
        drop(inbox, "M1_SSSJ_20260315111010.txt", REALTIME.replace("100.000", "abc"))
        drop(inbox, "M1_XXXX_20260315111020.txt", REALTIME)
        drop(inbox, "M1_SSSJ_20260315111030.txt", REALTIME.replace(";1~\nB1", ";2~\nB1"))
        outcomes = {o.name: o for o in reader().import_directory(sessions_of(w), inbox, w.clock())}
        assert outcomes["M1_CDSS_20260315110000.txt"].records == 1  # B1 defined
        assert "header names mine 'M1'" in str(outcomes["M2_SSSJ_20260315111000.txt"].error)
        assert "'abc' is not a number" in str(outcomes["M1_SSSJ_20260315111010.txt"].error)
        assert "unknown file kind 'XXXX'" in str(outcomes["M1_XXXX_20260315111020.txt"].error)
        assert "announces 2 records" in str(outcomes["M1_SSSJ_20260315111030.txt"].error)
        assert w.ok(w.get("/mines/M1/records"))["items"] == []  # nothing half-taken
        # each is in the import ledger, and not read again
        assert reader().import_directory(sessions_of(w), inbox, w.clock()) == []


def test_a_file_of_an_unknown_mine_waits_until_it_is_registered(
    sqlite_url: str, tmp_path: Path
) -> None:
    inbox = tmp_path / "in"
    drop(inbox, "M1_CDSS_20260315110000.txt", PARAMETERS)
    drop(inbox, "M1_SSSJ_20260315111000.txt", REALTIME)
    with world(sqlite_url, now=at(11, 31)) as w:
        w.mine("M9", belts=(), station=None)
        [first, second] = reader().import_directory(sessions_of(w), inbox, w.clock())
        assert "not registered" in str(first.later) and "not registered" in str(second.later)
        w.mine("M1", belts=(), station=None)
        [first, second] = reader().import_directory(sessions_of(w), inbox, w.clock())
        assert (first.records, second.records) == (1, 2)  # B1; its totalizer and conveyor
        with sessions_of(w)() as session:
            assert len(repository.imported_names(session)) == 2


def test_a_mine_with_its_own_station_takes_no_files(sqlite_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    drop(inbox, "M1_CDSS_20260315110000.txt", PARAMETERS)
    with world(sqlite_url, now=at(11, 31)) as w:
        w.mine("M1", belts=(), station="S1")
        [outcome] = reader().import_directory(sessions_of(w), inbox, w.clock())
        assert "has its own station(s) here (S1)" in str(outcome.error)
