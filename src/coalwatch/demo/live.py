"""The demo's live part: simulated instruments and a real station for every mine.

Each mine gets a ``SimSet`` (Modbus TCP servers on loopback) whose belt
totalizer continues from where the history ended, and a ``coalwatch station
run`` process polling it and uploading to the center, exactly as a mine would.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from coalwatch.demo.history import StandInStation
from coalwatch.demo.region import BELT, SKIP, MineSpec
from coalwatch.sim import BeltSpec, Schedule, SimSet, TripSpec
from coalwatch.station.outbox import LAST_SEQ, Outbox
from coalwatch.wire.signing import private_key_pem

log = logging.getLogger("coalwatch.demo")

POLL_INTERVAL_S = 5.0
#: a skip of ~10 t every this many seconds carries about a fifth of the mine's rate
TRIP_EVERY_S = 120.0


@dataclass
class LiveMine:
    spec: MineSpec
    sims: SimSet
    station: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.station.poll() is None:
            self.station.send_signal(signal.SIGTERM)
            try:
                self.station.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.station.kill()
                self.station.wait(timeout=5)
        self.sims.stop()


def start_live(
    spec: MineSpec,
    history: StandInStation,
    center: str,
    folder: Path,
    seed: int,
) -> LiveMine:
    """Simulators that continue the history's totalizer, and a station process for them.

    The station has the history's code and key, and its new outbox continues the
    history's sequence numbers: to the center it is the same station going on.
    """
    belt_total_kg = next(p.total_kg for p in history.points if p.code == BELT)
    rate = float(spec.hourly_capacity_t) * 0.9
    # the mine's own shift times, as in its history: the mines do not all stop at once
    schedule = Schedule(first_shift_h=spec.shift_offset_min / 60)
    belts = [
        BeltSpec(
            code=BELT,
            map="bw500",
            rate_tph=Decimal(f"{rate * (0.8 if spec.has_skip else 1.0):.1f}"),
            start_t=Decimal(belt_total_kg).scaleb(-3),
            seed=seed,
            schedule=schedule,
            clock_start_h=None,  # shifts follow the real time of day
        )
    ]
    trips = [
        TripSpec(
            code=SKIP, interval_s=TRIP_EVERY_S, seed=seed, schedule=schedule, clock_start_h=None
        )
    ]
    sims = SimSet(belts=belts, trips=trips if spec.has_skip else [], io=True)
    sims.start()
    folder.mkdir(parents=True, exist_ok=True)
    code = history.code
    key_file = folder / f"{code}.key"
    key_file.write_bytes(private_key_pem(history.key))
    os.chmod(key_file, 0o600)
    config = folder / f"{code}.toml"
    config.write_text(
        sims.station_config(
            code, key_file.name, [center], f"{code}-outbox.db", poll_interval_s=POLL_INTERVAL_S
        ),
        encoding="utf-8",
    )
    outbox_path = folder / f"{code}-outbox.db"
    for leftover in (
        outbox_path,
        *(outbox_path.with_name(outbox_path.name + s) for s in ("-wal", "-shm")),
    ):
        leftover.unlink(missing_ok=True)
    outbox = Outbox(outbox_path)
    try:
        outbox.set_state({LAST_SEQ: history.next_seq - 1})
    finally:
        outbox.close()
    log_path = folder / f"{code}.log"
    with log_path.open("wb") as out:
        station = subprocess.Popen(
            [sys.executable, "-m", "coalwatch.cli", "station", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COALWATCH_LOG_LEVEL": "WARNING"},
            # its own process group: Ctrl-C reaches the demo, which stops it in order
            start_new_session=True,
        )
    return LiveMine(spec, sims, station, log_path)
