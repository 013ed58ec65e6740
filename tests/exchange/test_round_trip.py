"""Files written by one center, pushed to an FTP server, fetched by another center and read
back as the records of a virtual station: the same figures at both, worked out by hand.

Center A holds the mine of conftest.py and writes a real-time file 5 s after each reading
(every 10 s by its setting); center B knows the mine (its code, capacity and coefficient)
but not its points or stations. B's figures of the hour from 11:00: 1.250 t from the belt
(101.250 − 100.000) and 8.250 + 7.750 = 16.000 t of trips, 17.250 t gross, raw
17.250 × 0.955 = 16.47375 → 16.474 t.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

from sqlalchemy import select

from coalwatch.config import Settings
from coalwatch.exchange import repository
from coalwatch.exchange.models import VirtualStation
from coalwatch.exchange.service import ExchangeJob
from coalwatch.integrity.service import verify_figures
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.exchange.conftest import FtpServer, at, flowing
from tests.exchange.test_files_out import sessions_of
from tests.support.world import Station, World, totalizer, trip, world


def center_a(w: World, out: Path, server: FtpServer) -> ExchangeJob:
    settings = Settings(
        database_url=w.url, exchange_dir=out, exchange_ftp_url=server.url, exchange_realtime_s=10
    )
    return ExchangeJob(settings, pause_s=0)


def center_b(w: World, inbox: Path, server: FtpServer) -> ExchangeJob:
    settings = Settings(
        database_url=w.url, exchange_import_dir=inbox, exchange_import_ftp_url=server.url
    )
    return ExchangeJob(settings, pause_s=0)


def summary(w: World, when: datetime) -> dict[str, dict[str, str]]:
    figures = w.ok(w.get("/mines/M1/summary", at=when.isoformat()))
    return {p: {k: figures[p][k] for k in ("gross_t", "raw_t")} for p in ("hour", "day", "year")}


def test_files_of_one_center_make_the_same_figures_at_another(
    database_url: str, sqlite_template: Path, tmp_path: Path, ftp_server: FtpServer
) -> None:
    (tmp_path / "a").mkdir()
    shutil.copy(sqlite_template, tmp_path / "a" / "coalwatch.db")
    ftp_server.start()
    readings = [
        totalizer(1, at(11, 10), "B1", "100.000"),
        trip(2, at(11, 15), "K1", "8.250"),
        flowing(totalizer(3, at(11, 20), "B1", "100.500"), "640"),
        trip(4, at(11, 25), "K1", "7.750"),
        flowing(totalizer(5, at(11, 30), "B1", "101.250"), "600.5"),
    ]
    with (
        world(f"sqlite:///{tmp_path / 'a' / 'coalwatch.db'}", now=at(11, 0)) as a,
        world(database_url, now=at(11, 0)) as b,
    ):
        for w in (a, b):
            w.mine("M1", org="C1", belts=(), trips=(), station=None)
            w.ok(
                w.post(
                    "/mines/M1/coefficients",
                    {
                        "percent": "4.5",
                        "effective_from": "2026-01-01",
                        "effective_to": "2026-12-31",
                    },
                )
            )
        for code, kind in (("B1", "belt"), ("K1", "skip")):
            a.ok(a.post("/mines/M1/points", {"code": code, "name": f"{code} 计量点", "kind": kind}))
        key = generate_private_key()
        a.ok(a.post("/mines/M1/stations", {"code": "S1", "public_key": public_key_b64(key)}))
        a.stations["S1"] = Station("S1", key)
        writer = center_a(a, tmp_path / "out", ftp_server)
        for reading in readings:
            a.clock.now = reading["ts"] + (at(11, 0, 5) - at(11, 0))
            a.ok(a.upload("S1", [reading]))
            writer(sessions_of(a), a.clock())

        b.clock.now = at(11, 31)
        reader = center_b(b, tmp_path / "in", ftp_server)
        reader(sessions_of(b), b.clock())

        expected = {"gross_t": D("17.250"), "raw_t": D("16.474")}
        for w in (a, b):
            figures = summary(w, at(11, 31))
            for period in ("hour", "day", "year"):
                assert {k: D(str(v)) for k, v in figures[period].items()} == expected, period

        # B's records came from a virtual station, marked as such
        with sessions_of(b)() as session:
            [virtual] = session.scalars(select(VirtualStation)).all()
        mine = next(m for m in b.ok(b.get("/mines"))["items"] if m["code"] == "M1")
        assert [s["code"] for s in mine["stations"]] == ["M1.virtual"]
        assert sorted(p["code"] for p in mine["points"]) == ["B1", "K1"]
        records = b.ok(b.get("/mines/M1/records", limit=100))["items"]
        assert len(records) == 5  # three totalizer readings and two trips, each once

        # a second round finds nothing new: the figures stay
        b.clock.now = at(11, 32)
        reader(sessions_of(b), b.clock())
        assert summary(b, at(11, 31))["day"] == summary(a, at(11, 31))["day"]
        with sessions_of(b)() as session:
            names = repository.imported_names(session)
        assert names == {p.name for p in (tmp_path / "out").iterdir()}
        assert virtual.mine_id is not None
        # and every figure at B is proved by the virtual station's signed batches
        with sessions_of(b)() as session:
            assert verify_figures(session, b.clock()).ok
