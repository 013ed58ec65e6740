"""The simulators over real Modbus TCP: what the registers show, fault by fault."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from pymodbus.exceptions import ModbusException

from coalwatch.sim import BeltSpec, SimSet, TripSpec, UnknownFault
from tests.sim.conftest import Reader

Serve = Callable[..., SimSet]
Open = Callable[[SimSet, str, str], Reader]


def fast_belt(**kw: object) -> BeltSpec:
    # 600 t/h and one real second = one simulated hour: 600 t a second
    options: dict[str, object] = {"code": "B1", "rate_tph": 600, "time_factor": 3600.0, "seed": 1}
    options.update(kw)
    return BeltSpec(**options)  # type: ignore[arg-type]


def total_t(r: Reader) -> Decimal:
    return r.value(r.map.totalizer)


def test_registers_show_the_truth_exactly(serve: Serve, reader: Open) -> None:
    sims = serve(
        belts=[
            fast_belt(start_t=Decimal("1000.000")),
            fast_belt(code="B2", map="intecont", start_t=Decimal(2)),
        ],
        trips=[TripSpec(code="K1", interval_s=20, seed=2, time_factor=100)],
    )
    time.sleep(0.3)
    sims.freeze()
    b1, b2, k1 = (
        reader(sims, "B1", "bw500"),
        reader(sims, "B2", "intecont"),
        reader(sims, "K1", "trip_indicator"),
    )
    # BW500: tonnes with three decimals, i.e. every kilogram
    assert total_t(b1) * 1000 == sims.state("B1")["total_kg"] > 1_000_000
    # INTECONT: float32 kilograms, exact below 2^24 kg
    assert total_t(b2) == sims.state("B2")["total_kg"] > 2000
    assert b1.value(b1.map.flow) == sims.state("B1")["flow_tph"] > 0
    trips = sims.state("K1")
    assert k1.value(k1.map.trip_counter) == trips["trip_count"] >= 1
    assert k1.value(k1.map.trip_net) == trips["trips_kg"][-1]


def test_totalizer_advances_with_the_time_factor(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    r = reader(sims, "B1", "bw500")
    first = total_t(r)
    time.sleep(0.25)
    # a quarter of a simulated hour at 600 t/h ± 17 %: well over 100 t
    assert total_t(r) - first > 100


def test_freeze_holds_the_registers(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    r = reader(sims, "B1", "bw500")
    sims.freeze()
    held = total_t(r)
    time.sleep(0.1)
    assert total_t(r) == held
    sims.unfreeze()
    time.sleep(0.05)
    assert total_t(r) > held


def test_door_open_reads_as_an_open_normally_closed_contact(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    io = reader(sims, "B1-IO", "station_io")
    assert io.bit(io.map.door_open) is False
    sims.inject("B1", "door_open")
    assert io.bit(io.map.door_open) is True
    raw = io.client.read_discrete_inputs(1, count=1, device_id=1).bits[0]
    assert raw is False  # the contact itself is open
    sims.inject("B1-IO", "door_close")
    assert io.bit(io.map.door_open) is False


def test_conveyor_stop_stops_the_totalizer(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    r, io = reader(sims, "B1", "bw500"), reader(sims, "B1-IO", "station_io")
    assert io.bit(io.map.conveyor_running) is True
    sims.inject("B1", "conveyor_stop")
    held = total_t(r)
    time.sleep(0.05)
    assert (total_t(r), r.value(r.map.flow)) == (held, 0)
    assert io.bit(io.map.conveyor_running) is False
    sims.inject("B1", "conveyor_start")
    time.sleep(0.05)
    assert total_t(r) > held


def test_count_while_stopped_counts_with_the_conveyor_off(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    r, io = reader(sims, "B1", "bw500"), reader(sims, "B1-IO", "station_io")
    sims.inject("B1", "count_while_stopped")
    first = total_t(r)
    time.sleep(0.05)
    assert io.bit(io.map.conveyor_running) is False
    assert total_t(r) > first


def test_empty_belt_runs_without_counting(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    r, io = reader(sims, "B1", "bw500"), reader(sims, "B1-IO", "station_io")
    sims.inject("B1", "belt_empty")
    held = total_t(r)
    time.sleep(0.05)
    assert (total_t(r), r.value(r.map.flow)) == (held, 0)
    assert io.bit(io.map.conveyor_running) is True


def test_power_off_clears_mains_and_stops_the_belt(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    io = reader(sims, "B1-IO", "station_io")
    assert io.bit(io.map.mains_power) is True
    sims.inject("B1", "power_off")
    assert (io.bit(io.map.mains_power), io.bit(io.map.conveyor_running)) == (False, False)
    sims.inject("B1", "power_on")
    assert io.bit(io.map.mains_power) is True


def test_error_code_and_parameter_change_show(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()], trips=[TripSpec(code="K1")])
    r, k = reader(sims, "B1", "bw500"), reader(sims, "K1", "trip_indicator")
    assert r.value(r.map.error_code) == 0
    sims.inject("B1", "error", code=5)
    assert r.value(r.map.error_code) == 5
    fingerprint = [k.value(p) for p in k.map.parameters]
    sims.inject("K1", "parameter_change", index=1)
    changed = [k.value(p) for p in k.map.parameters]
    assert changed == [fingerprint[0], fingerprint[1] + 1]
    sims.inject("K1", "parameter_change", index=0, value=4321)
    assert k.value(k.map.parameters[0]) == 4321
    # the BW500's calibration sits behind its handshake, not in registers
    span = sims.state("B1")["handshake_parameters"]["span"]
    sims.inject("B1", "parameter_change", name="span")
    assert sims.state("B1")["handshake_parameters"]["span"] == span + 1


def test_reset_shows_zero(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt(start_t=Decimal("5000.000"))])
    r = reader(sims, "B1", "bw500")
    sims.freeze()
    sims.inject("B1", "reset_totalizer")
    assert total_t(r) == 0
    assert sims.state("B1")["produced_kg"] > 0


def test_bw500_rolls_over_at_the_top_of_uint32(serve: Serve, reader: Open) -> None:
    # 4,294,967.000 t is 296 kg below the wrap; 600 t a second wraps at once
    sims = serve(belts=[fast_belt(start_t=Decimal("4294967.000"))])
    r = reader(sims, "B1", "bw500")
    time.sleep(0.05)
    sims.freeze()
    state = sims.state("B1")
    assert total_t(r) * 1000 == state["total_kg"] == state["produced_kg"] - 296
    assert total_t(r) < 4294967


def test_link_drop_fails_reads_and_restore_brings_them_back(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    r, io = reader(sims, "B1", "bw500"), reader(sims, "B1-IO", "station_io")
    port = sims.endpoints["B1"][1]
    total_t(r)
    sims.inject("B1", "link_drop")
    assert sims.state("B1")["link_up"] is False
    with pytest.raises(ModbusException):
        total_t(r)
    assert io.bit(io.map.mains_power) is True  # the I/O module's link is its own
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    sims.inject("B1", "link_restore")
    assert sims.endpoints["B1"][1] == port
    assert total_t(r) > 0
    assert sims.state("B1")["link_up"] is True


def test_trips_arrive_at_their_interval(serve: Serve, reader: Open) -> None:
    # 20 simulated seconds per trip, 200 times real time: a trip every 0.1 s
    sims = serve(trips=[TripSpec(code="K1", interval_s=20, seed=2, time_factor=200)])
    k = reader(sims, "K1", "trip_indicator")
    time.sleep(0.35)
    sims.freeze()
    trips = sims.state("K1")
    assert k.value(k.map.trip_counter) == len(trips["trips_kg"]) >= 3
    assert all(8000 <= kg <= 12000 for kg in trips["trips_kg"])


def test_trip_burst_advances_the_counter_by_two(serve: Serve, reader: Open) -> None:
    sims = serve(trips=[TripSpec(code="K1", interval_s=20, seed=2)])
    k = reader(sims, "K1", "trip_indicator")
    before = k.value(k.map.trip_counter)
    sims.inject("K1", "trip_burst")
    assert k.value(k.map.trip_counter) == before + 2
    assert k.value(k.map.trip_net) == sims.state("K1")["trips_kg"][-1]


def test_instruments_are_read_only(serve: Serve, reader: Open) -> None:
    sims = serve(belts=[fast_belt()])
    r = reader(sims, "B1", "bw500")
    assert r.client.write_register(1015, 0, device_id=1).isError()


def test_io_keys_take_io_faults_only(serve: Serve) -> None:
    sims = serve(belts=[fast_belt()])
    with pytest.raises(UnknownFault):
        sims.inject("B1-IO", "reset_totalizer")
    with pytest.raises(KeyError, match="B1-IO"):
        sims.inject("B9", "door_open")


def test_without_io_there_is_one_server_per_belt(serve: Serve) -> None:
    sims = serve(belts=[fast_belt()], io=False)
    assert list(sims.endpoints) == ["B1"]


def test_stop_leaves_no_thread_and_no_listener() -> None:
    import threading

    before = set(threading.enumerate())
    sims = SimSet(belts=[fast_belt()], trips=[TripSpec(code="K1")])
    sims.start()
    ports = [port for _, port in sims.endpoints.values()]
    sims.stop()
    sims.stop()  # twice is harmless
    assert set(threading.enumerate()) == before
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_a_busy_port_fails_start_and_leaves_nothing_behind(no_threads_left: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        sims = SimSet(belts=[fast_belt()], base_port=taken.getsockname()[1])
        with pytest.raises(RuntimeError):
            sims.start()
    sims.stop()
