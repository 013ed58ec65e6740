"""Three centers in process, talking over loopback HTTP: mine (MC) → county (CC) →
province. A capacity the mine center sets for itself is refused and alarmed at the
county; the capacity the county decides reaches the mine center, where it is read-only,
and the province; the records still flow up to the province; the mine center's audit
checkpoint is kept at the county."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from coalwatch.audit import checkpoints
from coalwatch.federation.queue import enable_forwarding, enqueue_config
from coalwatch.federation.service import Forwarder
from coalwatch.storage.session import transaction
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.federation.conftest import T0, served
from tests.support.world import World, totalizer, world


def _sqlite(template: Path, path: Path) -> str:
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def county(sqlite_template: Path, tmp_path: Path) -> Iterator[World]:
    with world(_sqlite(sqlite_template, tmp_path / "county.db"), T0) as w:
        enable_forwarding(w.client.app.state.coalwatch.sessions, "CC")  # type: ignore[attr-defined]
        yield w


def sessions(w: World) -> Any:
    return w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]


def capacity(w: World) -> Any:
    return w.ok(w.get("/mines"))["items"][0]["annual_capacity_t"]


def seqs(w: World) -> list[int]:
    return sorted(r["seq"] for r in w.ok(w.get("/mines/M1/records"))["items"])


def day_figures(w: World) -> Any:
    span = {"from": "2026-03-15T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"}
    return w.ok(w.get("/mines/M1/production", period="day", **span))["items"]


def test_capacity_flows_down_and_is_refused_going_up(
    down: World, county: World, upstream_url: str
) -> None:
    mine = down
    mine_key, county_key = generate_private_key(), generate_private_key()
    with world(upstream_url, T0) as province:
        province.ok(province.post("/orgs", {"code": "C1", "name": "C1 县", "kind": "county"}))
        province.ok(
            province.post(
                "/centers", {"code": "CC", "public_key": public_key_b64(county_key), "org": "C1"}
            )
        )
        county.ok(county.post("/orgs", {"code": "C1", "name": "C1 县", "kind": "county"}))
        county.ok(
            county.post(
                "/orgs", {"code": "X1", "name": "X1 公司", "kind": "company", "parent": "C1"}
            )
        )
        # the mine center is a supervised unit's: registered for the company
        county.ok(
            county.post(
                "/centers", {"code": "MC", "public_key": public_key_b64(mine_key), "org": "X1"}
            )
        )
        mine.ok(mine.post("/orgs", {"code": "X1", "name": "X1 公司", "kind": "company"}))
        mine.mine("M1", org="X1", capacity_t=330_000, belts=("B1",))
        seq = mine.stations["S1"].seqs(3)
        t = T0 - timedelta(hours=2)
        mine.ok(
            mine.upload(
                "S1",
                [
                    totalizer(seq[0], t, "B1", 100),
                    totalizer(seq[1], t + timedelta(minutes=30), "B1", 130.5),
                    totalizer(seq[2], t + timedelta(hours=1), "B1", 170),
                ],
            )
        )
        # the mine center cannot raise its own capacity to 9.9 Mt: it is never authoritative
        # for its own yardsticks, even before anything was decided above it
        own = mine.put(
            "/mines/M1/capacity", {"annual_capacity_t": 9_900_000, "effective_from": "2026-01-01"}
        )
        assert own.status_code == 403 and own.json()["error"]["details"]["unit"] is None
        # a mine center that pushes one up anyway (an old or altered program)
        with transaction(sessions(mine)) as session:
            data = {"annual_capacity_t": 9_900_000, "effective_from": "2026-01-01"}
            enqueue_config(session, "mine.capacity", "M1", data, T0)
        with transaction(sessions(mine)) as session:
            checkpoints.make_checkpoint(session, mine_key, T0, None)
        with served(county.client.app) as county_url, served(province.client.app) as prov_url:
            to_county = Forwarder(county_url, "MC", mine_key)
            to_province = Forwarder(prov_url, "CC", county_key)
            assert to_county.forward_due(sessions(mine), T0) > 0

            # at the county: the mine and its records arrived, its capacity did not
            assert capacity(county) == 330_000
            (refused,) = [a for a in county.alarms() if a["type"] == "forwarding_refused"]
            assert (refused["mine"], refused["value"]) == ("M1", "mine.capacity")
            (reject,) = county.ok(county.get("/centers/MC/rejects"))["items"]
            assert "decided by a supervising unit above the mine" in reject["reason"]
            assert seqs(county) == seq
            kept = county.ok(county.get("/centers/MC/checkpoints"))["items"]
            assert [c["public_key"] for c in kept] == [public_key_b64(mine_key)]

            # the county decides 600,000 t: it goes down to the mine center and up
            county.ok(
                county.put(
                    "/mines/M1/capacity",
                    {"annual_capacity_t": 600_000, "effective_from": "2026-01-01"},
                )
            )
            assert to_province.forward_due(sessions(county), T0) > 0
            assert to_county.forward_due(sessions(mine), T0) == 0
            assert capacity(mine) == 600_000
            assert capacity(province) == 600_000

            # read-only at the mine center, as before the county decided
            again = mine.put(
                "/mines/M1/capacity",
                {"annual_capacity_t": 9_900_000, "effective_from": "2026-01-01"},
            )
            assert again.status_code == 403
            assert again.json()["error"]["details"]["permission"] == "region:capacity"
            assert capacity(mine) == 600_000

            # the records flowed up to the province; all three compute the same day
            assert seqs(province) == seq
            assert day_figures(province) == day_figures(county) == day_figures(mine)
            # the county's refusal is mirrored to the province as the county raised it
            assert [a["value"] for a in province.alarms() if a["type"] == "forwarding_refused"] == [
                "mine.capacity"
            ]
