"""The station's configuration belongs to the center: issued and signed there, fetched
and verified by the station (a tampered one refused), its fingerprint in every
heartbeat, and ``parameter_change`` when a station runs anything the center did not
issue. Against a real center (the app in process) and the simulated instruments."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coalwatch.config import Settings
from coalwatch.integrity.keys import center_key
from coalwatch.sim.registers import RegisterServer, register_server
from coalwatch.station.agent import Agent
from coalwatch.station.config import load_config
from coalwatch.station.outbox import Outbox
from coalwatch.station.remote_config import RemoteConfig, running_fingerprint
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.station.conftest import CenterTransport, real_center
from tests.station.test_agent import KEY, Clock, belt, skip
from tests.station.test_signal import COIL, write_config
from tests.support.world import Station, World


def issued(port: int, k1_unit: int = 2) -> dict[str, Any]:
    """What the center issues: the same equipment as ``test_signal.write_config``."""
    return {
        "buses": {"line": {"kind": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 1.0}},
        "points": [
            {
                "code": "B1",
                "kind": "belt",
                "devices": [
                    {"bus": "line", "unit": 1, "map": "bw500"},
                    {"bus": "line", "unit": 3, "map": "station_io"},
                ],
                "signal": {"bus": "line", "unit": 3, "coil": COIL},
            },
            {
                "code": "K1",
                "kind": "skip",
                "devices": [{"bus": "line", "unit": k1_unit, "map": "trip_indicator"}],
            },
        ],
    }


@pytest.fixture
def field() -> Iterator[RegisterServer]:
    io = belt("1000.000")
    io.add_output(COIL)
    with register_server({1: belt("1000.000"), 2: skip(5, 9000), 3: io}) as server:
        yield server


@pytest.fixture
def center_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "center" / "center_key.pem"
    monkeypatch.setenv("COALWATCH_CENTER_KEY_FILE", str(path))
    return path


def center_public_key(path: Path) -> str:
    key = center_key(Settings(center_key_file=path), create=False)
    assert key is not None
    return public_key_b64(key)


def station_file(tmp_path: Path, center_key_b64: str) -> Path:
    """A station file with the station section only: its equipment comes from the center."""
    path = tmp_path / "remote.toml"
    path.write_text(
        f"""
[station]
code = "S1"
key_file = "station.key"
centers = ["http://127.0.0.1:9"]
outbox = "var/outbox.db"
center_key = "{center_key_b64}"
"""
    )
    return path


def remote_agent(path: Path, w: World, transport: Any) -> Agent:
    config, maps = load_config(path)
    clock = Clock(w.clock())
    remote = RemoteConfig(config, KEY, path.parent / "var" / "config.json", clock)
    outbox = Outbox(path.parent / "var" / "outbox.db")
    return Agent(config, maps, KEY, outbox, clock=clock, transport=transport, remote=remote)


async def upload(agent: Agent) -> None:
    while await agent.uploader.send_once():
        pass


def finish(agent: Agent) -> None:
    agent.uploader.close()
    agent.outbox.close()


def close_buses(agent: Agent) -> None:
    for bus in agent.buses.values():
        bus.close()


def config_alarms(w: World) -> list[dict[str, Any]]:
    return [a for a in w.alarms(type="parameter_change") if a["point"] is None]


def test_the_station_fetches_its_configuration_from_the_center_and_runs_it(
    tmp_path: Path, sqlite_url: str, field: RegisterServer, center_key_file: Path
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport):
        given = w.ok(w.put("/stations/S1/config", issued(field.port)))
        assert given["version"] == 1 and given["matches"] is None
        assert given["center_key"] == center_public_key(center_key_file)
        # the same equipment written in a local file has the same fingerprint
        (tmp_path / "local").mkdir()
        local = write_config(tmp_path / "local", field.port)
        assert running_fingerprint(*load_config(local)) == given["fingerprint"]

        agent = remote_agent(station_file(tmp_path, given["center_key"]), w, transport)
        assert agent.pollers == []

        async def scenario() -> None:
            assert await agent.take_center_config(at_start=True)
            assert agent.config_fingerprint == given["fingerprint"]
            assert [p.key for p in agent.pollers] == ["device:B1:0", "device:B1:1", "device:K1:0"]
            await agent.poll_cycle()
            agent.heartbeat()
            await upload(agent)
            close_buses(agent)

        asyncio.run(scenario())
        shown = w.ok(w.get("/stations/S1/config"))
        assert shown["running"] == given["fingerprint"] and shown["matches"] is True
        assert config_alarms(w) == []
        assert (tmp_path / "var" / "config.json").exists()
        beats = w.ok(w.get("/mines/M1/records", type="heartbeat"))["items"]
        assert beats[-1]["detail"] == f"config {given['fingerprint']}"
        finish(agent)


class Tampering:
    """A link that alters the configuration on its way (the signature stays)."""

    def __init__(self, center: CenterTransport, port: int) -> None:
        self.center, self.port = center, port

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        status, data = self.center.post(url, body, headers)
        if url.endswith("/config/fetch") and status == 200:
            answer = json.loads(data)
            answer["document"] = answer["document"].replace(
                f'"port":{self.port}', f'"port":{self.port + 1}'
            )
            data = json.dumps(answer).encode()
        return status, data

    def close(self) -> None:
        pass


def test_a_tampered_configuration_is_refused_and_the_running_one_kept(
    tmp_path: Path,
    sqlite_url: str,
    field: RegisterServer,
    center_key_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport):
        given = w.ok(w.put("/stations/S1/config", issued(field.port)))
        path = station_file(tmp_path, given["center_key"])
        agent = remote_agent(path, w, Tampering(transport, field.port))

        async def tampered() -> None:
            with caplog.at_level(logging.ERROR):
                assert not await agent.take_center_config(at_start=True)
            assert agent.pollers == []

        asyncio.run(tampered())
        assert "refused: the configuration's signature is not the center's" in caplog.text
        assert not (tmp_path / "var" / "config.json").exists()

        # a key that is not the center's refuses the genuine document too
        other = public_key_b64(generate_private_key())
        (tmp_path / "x").mkdir()
        stranger = remote_agent(station_file(tmp_path / "x", other), w, transport)
        assert stranger.remote is not None
        assert stranger.remote.fetch(transport.post, stranger.config_fingerprint) is None
        finish(stranger)

        # the kept copy is checked again at every start: an edited one is not run
        assert agent.remote is not None
        assert agent.remote.fetch(transport.post, agent.config_fingerprint) is not None
        kept = tmp_path / "var" / "config.json"
        assert agent.remote.cached() is not None
        kept.write_text(kept.read_text().replace(f'\\"port\\":{field.port}', '\\"port\\":1'))
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert agent.remote.cached() is None
        assert "is refused" in caplog.text
        finish(agent)


def test_a_station_running_another_configuration_raises_parameter_change(
    tmp_path: Path, sqlite_url: str, field: RegisterServer, center_key_file: Path
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport):
        given = w.ok(w.put("/stations/S1/config", issued(field.port, k1_unit=2)))
        # the station runs its own file, with the skip's indicator at another unit
        path = write_config(tmp_path, field.port)
        path.write_text(path.read_text().replace("unit = 2", "unit = 4"))
        path.write_text(
            path.read_text().replace(
                'outbox = "var/outbox.db"',
                f'outbox = "var/outbox.db"\ncenter_key = "{given["center_key"]}"',
            )
        )
        agent = remote_agent(path, w, transport)
        assert agent.config_fingerprint != given["fingerprint"]

        async def scenario() -> None:
            agent.heartbeat()
            await upload(agent)
            (alarm,) = config_alarms(w)
            assert alarm["state"] == "active" and alarm["end"] is None
            # the answer named the issued configuration: the station goes to fetch it
            assert agent.config_wanted.is_set()
            assert await agent.take_center_config()
            assert agent.config_fingerprint == given["fingerprint"]
            agent.heartbeat()
            await upload(agent)
            close_buses(agent)

        asyncio.run(scenario())
        (alarm,) = config_alarms(w)
        assert alarm["end"] is not None  # runs the issued one again
        assert w.ok(w.get("/stations/S1/config"))["matches"] is True
        finish(agent)


def test_who_may_issue_a_station_configuration(database_url: str, center_key_file: Path) -> None:
    with real_center(database_url, generate_private_key()) as (w, _):
        w.ok(w.post("/orgs", {"code": "CO", "name": "公司", "kind": "company", "parent": "C1"}))
        w.mine("M2", org="CO", belts=("B1",), trips=("K1",), station="S2")
        company = w.token_for("CO", write=True)
        county = w.token_for("C1", write=True)
        body = issued(5020)
        # the mine's company commissions a station that has never reached the center ...
        assert w.ok(w.put("/stations/S2/config", body, token=company))["version"] == 1
        assert w.put("/stations/S1/config", body, token=company).status_code == 404
        seq = w.stations["S2"].seqs(1)[0]
        w.ok(w.upload("S2", [{"seq": seq, "ts": w.clock(), "type": "heartbeat"}]))
        # ... but once it runs, only a supervising unit changes what it polls
        refused = w.put("/stations/S2/config", body, token=company)
        assert refused.status_code == 403 and "supervising unit" in refused.text
        assert w.ok(w.put("/stations/S2/config", body, token=county))["version"] == 2

        point_x = {**body, "points": [{**body["points"][1], "code": "X"}]}
        bad = w.put("/stations/S1/config", point_x)
        assert bad.status_code == 422 and "no point 'X'" in bad.text
        devices = [{"bus": "line", "map": "a.toml"}]
        a_file = {**body, "points": [{**body["points"][1], "devices": devices}]}
        bad = w.put("/stations/S1/config", a_file)
        assert bad.status_code == 422 and "not a shipped map" in bad.text
        no_bus = {**body, "buses": {}}
        bad = w.put("/stations/S1/config", no_bus)
        assert bad.status_code == 422 and "no bus named 'line'" in bad.text
        bad = w.put("/stations/S1/config", {**body, "points": []})
        assert bad.status_code == 422 and "no points" in bad.text
        assert w.ok(w.get("/stations/S1/config"))["version"] == 0


def test_a_new_issue_gives_the_station_time_to_switch_over(
    database_url: str, center_key_file: Path
) -> None:
    with real_center(database_url, KEY) as (w, _):
        first = w.ok(w.put("/stations/S1/config", issued(5020)))["fingerprint"]
        w.stations["S1"] = Station("S1", KEY)

        def beat(config: str) -> dict[str, Any]:
            seq = w.stations["S1"].seqs(1)[0]
            record = {"seq": seq, "ts": w.clock(), "type": "heartbeat", "config": config}
            answer: dict[str, Any] = w.ok(w.upload("S1", [record]))
            return answer

        assert beat(first)["config"] == {"version": 1, "fingerprint": first}
        second = w.ok(w.put("/stations/S1/config", issued(5021)))["fingerprint"]
        w.clock.advance(minutes=4)
        # still the first issue, 4 minutes after the second: switching over, no alarm
        assert beat(first)["config"] == {"version": 2, "fingerprint": second}
        assert config_alarms(w) == []
        w.clock.advance(minutes=2)
        beat(first)  # 6 minutes: beyond the 5 minutes to switch over
        (alarm,) = config_alarms(w)
        assert alarm["value"] == first[:12] and alarm["threshold"] == second[:12]
        answer = beat(second)
        (alarm,) = config_alarms(w)
        assert alarm["end"] is not None
        # the alarm of the whole station sounded every beacon until it was acknowledged
        assert [p["on"] for p in answer["signals"]["points"]] == [True, True]
        w.ok(w.post(f"/alarms/{alarm['id']}/ack", {}))
        assert [p["on"] for p in beat(second)["signals"]["points"]] == [False, False]
