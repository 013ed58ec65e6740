"""Modbus RTU end to end over a virtual serial pair (socat pty pair): the simulated BW500
answers RTU on one end, the station polls over the other (its I/O module over TCP), and
the records reach a real center."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from coalwatch.sim import BeltSpec, Schedule, SimSet
from coalwatch.station.agent import Agent
from coalwatch.station.config import load_config
from coalwatch.station.outbox import Outbox
from coalwatch.wire.signing import generate_private_key
from tests.station.conftest import real_center

SOCAT = shutil.which("socat")
pytestmark = pytest.mark.skipif(
    SOCAT is None,
    reason="socat is not installed (Debian package socat, in the Makefile's SYSTEM_PACKAGES; "
    "`make browser` installs it): no virtual serial pair for the Modbus RTU test",
)
KEY = generate_private_key()


@contextmanager
def pty_pair(folder: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals: what one end writes, the other reads (a null modem)."""
    assert SOCAT is not None
    a, b = folder / "tty-instrument", folder / "tty-station"
    process = subprocess.Popen(
        [SOCAT, "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not (a.exists() and b.exists()):
            assert process.poll() is None, "socat ended"
            assert time.monotonic() < deadline, "socat made no pty pair in 10 s"
            time.sleep(0.05)
        yield str(a), str(b)
    finally:
        process.terminate()
        process.wait(5)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_a_bw500_on_modbus_rtu_reaches_the_center_exactly(tmp_path: Path, sqlite_url: str) -> None:
    with (
        pty_pair(tmp_path) as (instrument_tty, station_tty),
        SimSet(
            belts=[
                BeltSpec(
                    code="B1",
                    rate_tph=600,
                    start_t=Decimal("1000.000"),
                    time_factor=60.0,  # 10 t a real second
                    schedule=Schedule(stop_min=0),
                    noise=0,
                    serial=instrument_tty,
                )
            ]
        ) as sims,
        real_center(sqlite_url, KEY) as (w, transport),
    ):
        sims.freeze()
        io_host, io_port = sims.endpoints["B1-IO"]
        path = tmp_path / "station.toml"
        path.write_text(
            f"""
[station]
code = "S1"
key_file = "station.key"
centers = ["http://127.0.0.1:9"]
outbox = "var/outbox.db"

[buses.line]
kind = "rtu"
device = "{station_tty}"
baudrate = 9600
timeout_s = 1.0

[buses.io]
kind = "tcp"
host = "{io_host}"
port = {io_port}

[[points]]
code = "B1"
kind = "belt"
[[points.devices]]
bus = "line"
unit = 1
map = "bw500"
[[points.devices]]
bus = "io"
unit = 1
map = "station_io"
"""
        )
        config, maps = load_config(path)
        clock = Clock(w.clock())
        agent = Agent(
            config, maps, KEY, Outbox(tmp_path / "var" / "outbox.db"), clock=clock,
            transport=transport,
        )  # fmt: skip
        first_kg = sims.state("B1")["total_kg"]

        async def main() -> None:
            await agent.poll_cycle()
            for _ in range(2):
                sims.unfreeze()
                await asyncio.sleep(0.3)
                sims.freeze()
                clock.now += timedelta(seconds=10)
                await agent.poll_cycle()
            # a calibration at the keypad, read back through the handshake over RTU
            sims.inject("B1", "parameter_change", name="span", value=30000)
            clock.now += timedelta(seconds=10)
            await agent.poll_cycle()
            while await agent.uploader.send_once():
                pass
            for bus in agent.buses.values():
                bus.close()

        asyncio.run(main())
        agent.uploader.close()
        last_kg = sims.state("B1")["total_kg"]
        assert last_kg > first_kg
        assert agent.outbox.count() == 0
        samples = w.ok(w.get("/mines/M1/records", type="totalizer", limit=100))["items"]
        assert len(samples) == 4
        increments = sum(Decimal(str(s["increment_t"] or 0)) for s in samples)
        # what the simulated display advanced, kilogram for kilogram
        assert increments == Decimal(last_kg - first_kg).scaleb(-3)
        (change,) = w.ok(w.get("/mines/M1/records", type="event"))["items"]
        assert change["event"] == "parameter_change"
        assert change["detail"] == "parameters changed: P368.1 span: 31577 → 30000"
        # over RTU too the station wrote nothing but the handshake's request words
        writes = sims.state("B1")["writes"]
        assert writes and {(a, len(words)) for a, words in writes} == {(89, 4)}
        agent.outbox.close()
