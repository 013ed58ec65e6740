"""Hot standby (热备): two ``coalwatch serve`` processes on one PostgreSQL database.

The done-when of the standby: kill -9 the active center during a load run; the station
fails over to the other; every seq is held exactly once (no gap, no duplicate) and the
production at the center equals what the simulators weighed, to the kilogram (checked
as tests/e2e does); the standby takes the jobs lease and runs a round within a minute.
A short lease (2 s, renewed every 0.5 s) and rounds every 0.5 s keep the run short.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from coalwatch.sim import BeltSpec, SimSet, TripSpec
from tests.conftest import _truncate_postgres
from tests.e2e.harness import Center, Station, register, stop_process, wait_for
from tests.e2e.test_station_e2e import Rig
from tests.ops.certs import write_token

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]
FAST = 60.0  # simulated seconds per real second: 600 t/h carries 10 t a real second


@pytest.fixture
def centers(postgres_schema: str, tmp_path: Path) -> Iterator[tuple[Center, Center]]:
    _truncate_postgres(postgres_schema)
    pair = (Center(tmp_path / "a"), Center(tmp_path / "b"))
    for center in pair:
        center.directory.mkdir()
        center.env.update(
            COALWATCH_DATABASE_URL=postgres_schema,
            COALWATCH_JOBS_INTERVAL_S="0.5",
            COALWATCH_JOBS_LEASE_S="2",
            COALWATCH_LOG_LEVEL="INFO",
        )
    pair[0].token = pair[1].token = write_token(postgres_schema)  # the schema is migrated
    try:
        with ThreadPoolExecutor(2) as pool:  # both at once; whichever claims first leads
            list(pool.map(Center.start, pair))
        leader = pair[0].api("GET", "/jobs/leader")
        assert leader["active"]
        leads = next(c for c in pair if c.process and c.process.pid == pid_of(leader["holder"]))
        yield (leads, pair[1] if leads is pair[0] else pair[0])
    finally:
        for center in pair:
            center.stop()


def pid_of(holder: str) -> int:
    """The process id in a lease holder's name (host:pid:tag)."""
    return int(holder.split(":")[1])


def test_killing_the_active_center_loses_and_duplicates_nothing(
    centers: tuple[Center, Center], tmp_path: Path
) -> None:
    active, standby = centers
    assert active.process is not None and standby.process is not None
    leader = active.api("GET", "/jobs/leader")
    assert leader["active"] and pid_of(leader["holder"]) == active.process.pid
    first_term = leader["term"]

    sims = SimSet(
        belts=[BeltSpec(code="B1", rate_tph=600, time_factor=FAST, seed=21)],
        trips=[TripSpec(code="K1", interval_s=1.0, seed=22)],
    )
    sims.start()
    sims.freeze()
    directory = tmp_path / "station"
    directory.mkdir()
    station = Station(
        "S-HA",
        "HA",
        directory,
        sims,
        [active.url, standby.url],
        settings={
            "retry_first_s": 0.2,
            "retry_max_s": 1.0,
            "heartbeat_s": 5,
            "request_timeout_s": 2,
        },
        poll_interval_s=0.3,
    )
    rig = Rig(
        active,
        "HA",
        sims,
        station,
        ["B1"],
        ["K1"],
        {"B1": sims.state("B1")["produced_kg"]},
        {"K1": len(sims.state("K1")["trips_kg"])},
    )
    try:
        register(active, "HA", station.code, station.make_key(), ["B1"], ["K1"], org="HA")
        station.start()
        rig.wait_first_poll()
        sims.unfreeze()
        wait_for(
            lambda: len(active.records("HA")) >= 10,
            20,
            f"uploads to the active center\n{station.log_tail()}",
        )
        time.sleep(1)  # uploading under way
        killed, active.process = active.process, None
        stop_process(killed, signal.SIGKILL)  # no clean stop, no lease release
        killed_at = datetime.now(UTC)
        time.sleep(3)  # the load goes on, to the standby now
        rig.center = standby
        rig.settle()
        rig.assert_exact()

        assert station.stop() == 0  # (a running station may add a heartbeat meanwhile)
        # every seq the station gave is at the center (once) or still in its outbox; a
        # batch stored just before the SIGTERM may also still wait in the outbox
        at_center = [r["seq"] for r in standby.records("HA")]
        assert len(at_center) == len(set(at_center)), "a record was stored twice"
        waiting = station.outbox_seqs()
        assert set(at_center) | set(waiting) == set(range(1, station.last_seq() + 1))
        assert "switched to center " + standby.url in station.log.read_text()

        # the standby took the jobs over: the lease, in a new term, and a round run in it
        def took_over() -> dict[str, Any] | None:
            state: dict[str, Any] = standby.api("GET", "/jobs/leader")
            ours = pid_of(state["holder"]) == standby.process.pid  # type: ignore[union-attr]
            return state if ours and state["last_round_at"] else None

        leader = wait_for(took_over, 60, "the standby to run the jobs")
        assert leader["active"] and leader["term"] == first_term + 1
        assert leader["last_round_at"] >= leader["acquired_at"]
        took = datetime.fromisoformat(leader["acquired_at"]) - killed_at
        ran = datetime.fromisoformat(leader["last_round_at"]) - killed_at
        print(f"the standby took the lease {took.total_seconds():.1f} s after the kill")
        print(f"and had finished a round {ran.total_seconds():.1f} s after it")
    finally:
        station.stop()
        sims.stop()
        print(station.log_tail(10_000))  # shown when the test failed
