"""Acceptance across two centers in process, over loopback HTTP: a mine center (MC, a
supervised unit's) and its county (CC). The mine center cannot accept its own system; it
alarms its production as not accepted, and the alarm goes up; the county accepts, the
decision comes down, and the mine center's alarm ends (and so does its mirror above)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from coalwatch.federation.queue import enable_forwarding
from coalwatch.federation.service import Forwarder
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.federation.conftest import T0, served
from tests.support.world import World, totalizer, world


@pytest.fixture
def county(sqlite_template: Path, tmp_path: Path) -> Iterator[World]:
    path = tmp_path / "county.db"
    shutil.copy(sqlite_template, path)
    with world(f"sqlite:///{path}", T0) as w:
        yield w


@pytest.fixture
def down(sqlite_template: Path, tmp_path: Path) -> Iterator[World]:
    path = tmp_path / "mine.db"
    shutil.copy(sqlite_template, path)
    with world(f"sqlite:///{path}", T0) as w:
        enable_forwarding(sessions(w), "MC")
        yield w


def sessions(w: World) -> Any:
    return w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]


def unaccepted(w: World) -> list[tuple[str, bool]]:
    return [(a["mine"], a["end"] is None) for a in w.alarms(type="unaccepted_production")]


def test_the_county_accepts_the_system_of_a_mine_center_and_the_decision_comes_down(
    down: World, county: World
) -> None:
    mine = down
    mine_key = generate_private_key()
    county.ok(county.post("/orgs", {"code": "C1", "name": "襄垣县", "kind": "county"}))
    county.ok(
        county.post("/orgs", {"code": "X1", "name": "X1 公司", "kind": "company", "parent": "C1"})
    )
    county.ok(
        county.post("/centers", {"code": "MC", "public_key": public_key_b64(mine_key), "org": "X1"})
    )
    mine.ok(mine.post("/orgs", {"code": "X1", "name": "X1 公司", "kind": "company"}))
    mine.mine("M1", org="X1", accepted=False)
    seq = mine.stations["S1"].seqs(2)
    t = T0 - timedelta(hours=1)
    mine.ok(
        mine.upload(
            "S1",
            [
                totalizer(seq[0], t, "B1", 100),
                totalizer(seq[1], t + timedelta(minutes=5), "B1", 104),
            ],
        )
    )
    mine.tick()
    assert unaccepted(mine) == [("M1", True)]
    body = {
        "kind": "acceptance",
        "decided_on": "2026-03-15",
        "record_no": "襄煤验字〔2026〕第03号",
        "inspection_due": "2027-03-15",
    }
    # the mine's center holds no supervising unit: it decides nothing of its own
    own = mine.post("/mines/M1/acceptance", body)
    assert own.status_code == 403, own.text

    with served(county.client.app) as county_url:
        to_county = Forwarder(county_url, "MC", mine_key)
        assert to_county.forward_due(sessions(mine), T0) > 0
        assert unaccepted(county) == [("M1", True)]  # mirrored from below
        state = county.ok(county.post("/mines/M1/acceptance", body))
        assert state["accepted_unit"] == "襄垣县"
        to_county.forward_due(sessions(mine), T0)  # the decision comes down with the answer
        below = mine.ok(mine.get("/mines/M1/acceptance"))
        assert (below["state"], below["decisions"][0]["decided_by"]) == (
            "accepted",
            "upstream:C1 襄垣县",
        )
        assert unaccepted(mine) == [("M1", False)]  # ended as the decision applied
        to_county.forward_due(sessions(mine), T0)
        assert unaccepted(county) == [("M1", False)]
    assert mine.ok(mine.get("/mines/M1/summary"))["accepted"] is True
