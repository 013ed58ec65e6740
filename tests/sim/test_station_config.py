"""The station config that polls the simulators, and ``coalwatch sim run``."""

from __future__ import annotations

import argparse
import asyncio
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from coalwatch.sim import BeltSpec, SimSet, TripSpec
from coalwatch.sim.cli import add_parser, handle_line, run_sim
from coalwatch.station.bus import Bus, BusError, Group
from coalwatch.station.config import TcpBus, load_config
from coalwatch.station.registers import Table

Serve = Callable[..., SimSet]


def test_station_config_polls_every_instrument_with_the_shipped_maps(
    serve: Serve, tmp_path: Path
) -> None:
    sims = serve(
        belts=[BeltSpec(code="B1"), BeltSpec(code="B2", map="intecont")],
        trips=[TripSpec(code="K1", kind="truck")],
    )
    path = tmp_path / "station.toml"
    path.write_text(
        sims.station_config("S1", "station.key", ["http://127.0.0.1:8000"], "var/o.db", 2)
    )
    config, maps = load_config(path)
    assert config.station.code == "S1"
    assert config.station.poll_interval_s == 2
    ports = {name: bus.port for name, bus in config.buses.items()}  # type: ignore[union-attr]
    assert ports == {key: port for key, (_, port) in sims.endpoints.items()}
    points = {p.code: p for p in config.points}
    assert [(d.bus, d.map) for d in points["B1"].devices] == [
        ("B1", "bw500"),
        ("B1-IO", "station_io"),
    ]
    assert (points["B2"].devices[0].bus, points["B2"].devices[0].map) == ("B2", "intecont")
    assert (points["K1"].kind, [(d.bus, d.map) for d in points["K1"].devices]) == (
        "truck",
        [("K1", "trip_indicator")],
    )
    assert maps[("B1", 1)].door_open is not None
    # the outlet's beacon: the I/O module's output coil, the one place the station writes
    assert points["B1"].signal is not None
    assert (points["B1"].signal.bus, points["B1"].signal.coil) == ("B1-IO", 0)
    assert points["K1"].signal is None


def test_the_io_modules_beacon_coil_is_written_and_read_back_over_modbus(serve: Serve) -> None:
    sims = serve(belts=[BeltSpec(code="B1")], trips=[])
    host, port = sims.endpoints["B1-IO"]
    unit = 1  # the spec's default

    async def switch() -> list[bool]:
        bus = Bus("io", TcpBus(kind="tcp", host=host, port=port))
        try:
            await bus.write_coil(unit, 0, True)
            assert sims.state("B1")["beacon"] is True
            (on,) = await bus.read(unit, [Group(Table.COIL, 0, 1)])
            with pytest.raises(BusError):
                await bus.write_coil(unit, 1, True)  # not an output
            await bus.write_coil(unit, 0, False)
            (off,) = await bus.read(unit, [Group(Table.COIL, 0, 1)])
            return [bool(on[0]), bool(off[0])]
        finally:
            bus.close()

    assert asyncio.run(switch()) == [True, False]
    assert sims.state("B1")["beacon"] is False


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_sim_run_serves_writes_the_config_and_takes_faults(
    no_threads_left: None, tmp_path: Path
) -> None:
    args = parse(["sim", "run", "--belts", "2", "--trips", "1", "--map", "intecont",
                  "--time-factor", "60", "--start-hour", "2",
                  "--config-out", str(tmp_path / "var" / "sim-station.toml")])  # fmt: skip
    stdin = io.StringIO("B1 door_open\nB2 error 7\nstate B1\nK1 nonsense\nquit\nstate B1\n")
    out = io.StringIO()
    run_sim(args, stdin, out)
    text = out.getvalue()
    assert "B1 modbus tcp 127.0.0.1:" in text and "K1 modbus tcp" in text
    assert "door_open=True" in text
    assert "error: no fault 'nonsense'" in text
    assert text.rstrip().endswith("stopping")  # nothing after quit
    config, _ = load_config(tmp_path / "var" / "sim-station.toml")
    assert [p.code for p in config.points] == ["B1", "B2", "K1"]
    assert config.station.key_file.is_absolute()


def test_fault_arguments_by_position_or_name(serve: Serve) -> None:
    sims = serve(belts=[BeltSpec(code="B1")])
    handle_line(sims, "B1 parameter_change name=span 77")
    handle_line(sims, "B1 error code=9")
    state = sims.state("B1")
    assert (state["handshake_parameters"]["span"], state["error_code"]) == (Decimal(77), 9)
    with pytest.raises(ValueError, match="at most"):
        handle_line(sims, "B1 door_open now")
    assert handle_line(sims, "") == (True, "")
    assert handle_line(sims, "quit")[0] is False
