"""Simulators + station + center in one run: production at the center is exact.

How exactness is checked: the simulators are frozen before the station's first
poll (the baseline is known), run, frozen again; once the center holds a
reading equal to each frozen totalizer (and every trip), each point's
production at the center must equal what the simulator weighed in between,
to the kilogram. The simulated clocks run 60× so that a few seconds carry
tonnes (600 t/h × 60 = 10 t per real second).

One center serves every scenario (a mine and a station of its own each), once on SQLite
and once on PostgreSQL; stations are processes, so SIGKILL is real.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from coalwatch.sim import BeltSpec, SimSet, TripSpec
from tests.conftest import BACKENDS, _truncate_postgres
from tests.e2e.harness import (
    Center,
    Station,
    free_port,
    newest,
    register,
    register_station,
    wait_for,
)

FAST = 60.0  # simulated seconds per real second
pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module", params=BACKENDS)
def center(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Center]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_schema")
        _truncate_postgres(url)
    c = Center(tmp_path_factory.mktemp("center"), url)
    c.prepare(sqlite_template)
    try:
        c.start()  # a center that does not listen in time is stopped too
        yield c
    finally:
        c.stop()


@dataclass
class Rig:
    """A scenario's simulators and station, against the shared center."""

    center: Center
    mine: str
    sims: SimSet
    station: Station
    belts: list[str]
    trips: list[str]
    produced0: dict[str, int]
    trips0: dict[str, int]

    # -- the baseline and the settled end ---------------------------------------------------

    def device_states(self) -> dict[str, str]:
        if not self.station.outbox.exists():
            return {}
        db = sqlite3.connect(f"file:{self.station.outbox}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute("SELECT key, value FROM meta WHERE key LIKE 'device:%'").fetchall()
        except sqlite3.OperationalError:
            return {}
        finally:
            db.close()
        return dict(rows)

    def wait_first_poll(self) -> None:
        """Until the station has stored its first look at every point (frozen: the baseline)."""
        wanted = {f"device:{p}:0" for p in self.belts + self.trips}
        wait_for(
            lambda: wanted <= set(self.device_states()),
            20,
            f"the station's first poll\n{self.station.log_tail()}",
        )

    def settle(self, timeout: float = 30) -> None:
        """Freeze; wait until the center holds the frozen totals and every trip."""
        self.sims.freeze()
        for belt in self.belts:
            total = Decimal(self.sims.state(belt)["total_kg"]).scaleb(-3)

            def reached(belt: str = belt, total: Decimal = total) -> bool:
                latest = newest(self.center.records(self.mine, point=belt, type="totalizer"))
                return latest is not None and Decimal(str(latest["value_t"])) == total

            wait_for(reached, timeout, f"{belt} at {total} t\n{self.station.log_tail()}")
        for trip in self.trips:
            expected = len(self.sims.state(trip)["trips_kg"]) - self.trips0[trip]
            wait_for(
                lambda trip=trip, expected=expected: (
                    len(self.center.records(self.mine, point=trip, type="trip")) == expected
                ),
                timeout,
                f"{expected} trips of {trip}\n{self.station.log_tail()}",
            )

    def assert_exact(self) -> None:
        """Each point's production at the center equals the simulator's, to the kilogram."""
        for belt in self.belts:
            weighed = Decimal(self.sims.state(belt)["produced_kg"] - self.produced0[belt])
            assert weighed > 0
            assert self.center.production(self.mine, belt) == weighed.scaleb(-3), belt
        for trip in self.trips:
            trips = self.sims.state(trip)["trips_kg"][self.trips0[trip] :]
            assert trips, f"no trip of {trip} in the run"
            assert self.center.production(self.mine, trip) == Decimal(sum(trips)).scaleb(-3)


@pytest.fixture
def make_rig(center: Center, tmp_path: Path) -> Iterator[Any]:
    """Builds a scenario: simulators started and frozen, mine registered, station ready."""
    started: list[Rig] = []

    def make(
        mine: str,
        belts: list[BeltSpec],
        trips: Sequence[TripSpec] = (),
        centers: list[str] | None = None,
        settings: dict[str, Any] | None = None,
        registered: bool = True,
        with_cli: bool = False,
        poll_interval_s: float = 0.5,
    ) -> Rig:
        sims = SimSet(belts=belts, trips=trips)
        sims.start()
        sims.freeze()
        station = Station(
            f"S-{mine}",
            mine,
            tmp_path,
            sims,
            centers or [center.url],
            settings={
                "retry_first_s": 0.2,
                "retry_max_s": 1.0,
                "heartbeat_s": 5,
                "fault_after": 2,
                **(settings or {}),
            },
            poll_interval_s=poll_interval_s,
        )
        rig = Rig(
            center,
            mine,
            sims,
            station,
            [b.code for b in belts],
            [t.code for t in trips],
            {b.code: sims.state(b.code)["produced_kg"] for b in belts},
            {t.code: len(sims.state(t.code)["trips_kg"]) for t in trips},
        )
        started.append(rig)
        public_key = station.make_key(with_cli)
        register(
            center, mine, station.code, public_key if registered else None, rig.belts, rig.trips
        )
        return rig

    yield make
    for rig in started:
        rig.station.stop()
        rig.sims.stop()
        print(rig.station.log_tail(10_000))  # shown when the test failed


def belt(code: str, seed: int, start_t: str = "1000.000") -> BeltSpec:
    return BeltSpec(code=code, rate_tph=600, start_t=Decimal(start_t), time_factor=FAST, seed=seed)


def test_production_at_the_center_equals_the_simulators_delta(make_rig: Any) -> None:
    # B2 starts 30 t below its wrap: it rolls over within the run
    rig = make_rig(
        "E1",
        [belt("B1", 1), belt("B2", 2, start_t="4294937.296")],
        [TripSpec(code="K1", interval_s=1.5, seed=3)],
        with_cli=True,
        poll_interval_s=0.3,
    )
    rig.station.start()
    rig.wait_first_poll()
    rig.sims.unfreeze()
    time.sleep(5)
    rig.settle()
    rig.assert_exact()
    kinds = {r["increment_kind"] for r in rig.center.records("E1", point="B2", type="totalizer")}
    assert "rollover" in kinds
    status = rig.station.status()
    assert "station S-E1" in status and "last acked:" in status


def test_exact_when_the_center_is_stopped_for_part_of_the_run(
    make_rig: Any, center: Center
) -> None:
    rig = make_rig("E2", [belt("B1", 4)])
    rig.station.start()
    rig.wait_first_poll()
    rig.sims.unfreeze()
    time.sleep(1.5)
    center.stop()
    try:
        time.sleep(4)  # the station keeps polling into its outbox
        waiting = rig.station.outbox_count()
        assert waiting >= 5
    finally:
        center.start()  # the same port and database
    rig.settle()
    rig.assert_exact()
    wait_for(lambda: rig.station.outbox_count() == 0, 10, "the outbox to drain")


def test_exact_and_no_duplicates_when_the_station_is_killed_mid_upload(
    make_rig: Any, center: Center
) -> None:
    # The center refuses the station (401: not registered yet) while the outbox fills;
    # a refusal deletes nothing. Then it is registered, and killed while it drains.
    rig = make_rig(
        "E3",
        [belt(f"B{i}", 10 + i) for i in range(1, 9)],
        settings={"batch_size": 20},
        registered=False,
        poll_interval_s=0.2,
    )
    rig.station.start()
    rig.wait_first_poll()
    rig.sims.unfreeze()
    peak = wait_for(
        lambda: (n := rig.station.outbox_count()) >= 300 and n,
        40,
        f"300 records in the outbox\n{rig.station.log_tail()}",
    )
    assert rig.center.records("E3") == []
    register_station(center, "E3", rig.station.code, rig.station.public_key)
    wait_for(
        lambda: rig.station.outbox_count() <= peak - 60,
        20,
        f"the upload to start\n{rig.station.log_tail()}",
        every=0.01,
    )
    rig.station.stop(signal.SIGKILL)
    left = rig.station.outbox_count()
    assert left >= 60, "the kill came after the upload ended"
    rig.station.start()
    rig.settle()
    rig.assert_exact()
    assert rig.station.stop() == 0  # SIGTERM: a clean stop
    assert "station stopped" in rig.station.log.read_text()
    # every seq the station gave is at the center (once) or still in its outbox; a batch
    # stored just before the SIGTERM may also still wait in the outbox: sent again, the
    # center counts it as duplicates
    at_center = [r["seq"] for r in rig.center.records("E3")]
    assert len(at_center) == len(set(at_center)), "a record was stored twice"
    waiting = rig.station.outbox_seqs()
    assert set(at_center) | set(waiting) == set(range(1, rig.station.last_seq() + 1))


def test_exact_when_the_first_center_is_down_and_the_second_up(
    make_rig: Any, center: Center
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    rig = make_rig("E4", [belt("B1", 5)], centers=[dead, center.url])
    rig.station.start()
    rig.wait_first_poll()
    rig.sims.unfreeze()
    time.sleep(3)
    rig.settle()
    rig.assert_exact()
    assert "switched to center " + center.url in rig.station.log.read_text()


def test_injected_faults_reach_the_center_as_records(make_rig: Any) -> None:
    rig = make_rig("E5", [belt("B1", 6)])
    center, sims = rig.center, rig.sims
    rig.station.start()
    rig.wait_first_poll()
    sims.unfreeze()

    def event(name: str, detail: str = "") -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for r in center.records("E5", type="event"):
                if r["event"] == name and detail in (r["detail"] or ""):
                    return r
            return None

        return wait_for(found, 15, f"event {name} {detail}\n{rig.station.log_tail()}")

    def conveyor(running: bool) -> dict[str, Any]:
        return wait_for(
            lambda: next(
                (r for r in center.records("E5", type="conveyor") if r["running"] is running),
                None,
            ),
            15,
            f"conveyor running={running}",
        )

    conveyor(True)
    sims.inject("B1", "door_open")
    event("enclosure_open")
    sims.inject("B1", "door_close")
    event("enclosure_closed")

    sims.inject("B1", "count_while_stopped")
    stopped = conveyor(False)
    # the scale keeps counting with the conveyor stopped: production after the stop
    wait_for(
        lambda: any(
            r["ts"] > stopped["ts"] and Decimal(str(r["increment_t"] or 0)) > 0
            for r in center.records("E5", point="B1", type="totalizer")
        ),
        15,
        "counting while stopped",
    )
    sims.inject("B1", "conveyor_start")

    sims.inject("B1", "parameter_change")
    event("parameter_change", "parameters changed")

    # a reset while frozen, so that no production falls between the last reading and it
    rig.settle()
    sims.inject("B1", "reset_totalizer")
    sims.unfreeze()
    event("parameter_change", "totalizer reset")

    sims.inject("B1", "power_off")
    event("power_off")
    sims.inject("B1", "power_on")
    event("power_on")

    sims.inject("B1", "link_drop")
    event("device_fault")
    sims.inject("B1", "link_restore")
    event("device_ok")

    time.sleep(1)
    rig.settle()
    rig.assert_exact()
