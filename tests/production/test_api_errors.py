"""Bad input gets a 4xx with a message that says what was wrong, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str) -> Any:
    with world(sqlite_url) as w:
        w.mine("M1")
        yield w


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["message"]
    return body


def test_no_token_is_401(w: World) -> None:
    assert error(w.client.get("/api/v1/mines"), 401)["code"] == "unauthorized"
    bad = {"Authorization": "Bearer nope"}
    assert "unknown" in error(w.client.get("/api/v1/mines", headers=bad), 401)["message"]


def test_read_token_cannot_write(w: World) -> None:
    reader = w.token_for(None, write=False)
    body = {"code": "X", "name": "X", "kind": "county"}
    assert "read-only" in error(w.post("/orgs", body, token=reader), 403)["message"]
    assert [o["code"] for o in w.ok(w.get("/orgs"))["items"]] == ["C1"]


def test_tonnes_finer_than_a_kilogram_are_refused(w: World) -> None:
    body = {"annual_capacity_t": "1000.0001", "effective_from": "2026-01-01"}
    assert "3 decimals" in error(w.put("/mines/M1/capacity", body), 422)["message"]


def test_unknown_fields_and_missing_fields_are_named(w: World) -> None:
    e = error(
        w.post("/mines/M1/points", {"code": "P2", "name": "x", "kind": "belt", "colour": 1}), 422
    )
    assert "colour" in e["message"]
    e = error(w.post("/mines/M1/points", {"code": "P2", "kind": "belt"}), 422)
    assert "name" in e["message"]


def test_bad_values_are_422(w: World) -> None:
    assert error(w.post("/mines/M1/points", {"code": "P2", "name": "x", "kind": "conveyor"}), 422)
    assert error(
        w.post(
            "/mines/M1/coefficients",
            {"percent": "4.555", "effective_from": "2026-01-01", "effective_to": "2026-06-30"},
        ),
        422,
    )
    assert error(
        w.post(
            "/mines/M1/coefficients",
            {"percent": 4, "effective_from": "2026-07-01", "effective_to": "2026-06-30"},
        ),
        422,
    )
    assert error(w.post("/mines/M1/stations", {"code": "S9", "public_key": "bm90IGEga2V5"}), 422)
    assert error(w.put("/mines/M1/plans/2026-13", {"month_t": 1}), 422)
    assert error(
        w.get(
            "/mines/M1/production",
            period="week",
            **{"from": "2026-03-01T00:00:00+08:00", "to": "2026-03-02T00:00:00+08:00"},
        ),
        422,
    )
    assert error(
        w.get(
            "/mines/M1/production",
            period="day",
            **{"from": "2026-03-01T00:00:00", "to": "2026-03-02T00:00:00+08:00"},
        ),
        422,
    )
    e = error(
        w.get(
            "/mines/M1/production",
            period="hour",
            **{"from": "2026-01-01T00:00:00+08:00", "to": "2026-03-02T00:00:00+08:00"},
        ),
        422,
    )
    assert "narrow" in e["message"]


def test_duplicates_conflict_and_unknowns_are_not_found(w: World) -> None:
    assert error(w.post("/orgs", {"code": "C1", "name": "again", "kind": "county"}), 409)
    assert error(w.post("/mines/M1/points", {"code": "B1", "name": "x", "kind": "belt"}), 409)
    assert error(w.get("/mines/NOPE/summary"), 404)["code"] == "not_found"
    assert error(w.client.get("/api/v1/nothing-here", headers=w.headers()), 404)
    assert error(w.post("/alarms/999/ack", {}), 404)


def test_org_levels_must_descend(w: World) -> None:
    assert (
        "cannot be placed"
        in error(
            w.post("/orgs", {"code": "P", "name": "省", "kind": "province", "parent": "C1"}), 422
        )["message"]
    )
