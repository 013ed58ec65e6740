"""An API request is authenticated before its query or body is looked at, and a body
larger than allowed is refused before it is read."""

from __future__ import annotations

from typing import Any

import pytest

from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, sign
from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str) -> Any:
    with world(sqlite_url) as w:
        w.mine("M1")
        yield w


@pytest.mark.parametrize("token", [None, "cw_not-a-token"])
def test_an_unknown_caller_learns_nothing_of_the_fields(w: World, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for response in (
        w.client.post("/api/v1/mines", json={"code": 1}, headers=headers),
        w.client.post("/api/v1/orgs", content=b"{not json", headers=headers),
        w.client.get("/api/v1/mines/M1/production", params={"period": "nope"}, headers=headers),
        w.client.put("/api/v1/mines/M1/thresholds", json={"value": -1}, headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["details"] is None
        assert "period" not in response.text and "code" not in response.json()["error"]["message"]


def test_a_known_token_still_gets_the_field_details(w: World) -> None:
    response = w.post("/mines", {"code": 1})
    assert response.status_code == 422
    assert response.json()["error"]["details"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(w: World) -> None:
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"  # 2 MiB + 2 bytes: over the 2 MiB limit
    for headers in ({}, w.headers()):
        response = w.client.post(
            "/api/v1/orgs", content=big, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 413, response.text

    def chunks() -> Any:  # no Content-Length: counted while it arrives
        for _ in range(3):
            yield b" " * (1024 * 1024)

    response = w.client.post(
        "/api/v1/orgs",
        content=chunks(),
        headers={**w.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text


def test_a_station_batch_has_its_own_limit_and_its_station_is_known_first(w: World) -> None:
    key = w.stations["S1"].key
    # 10 MiB of spaces inside a valid batch: within the 32 MiB of a signed upload
    body = encode_batch("S1", w.clock(), [])[:-1] + b" " * (10 * 1024 * 1024) + b"}"
    response = w.client.post(
        "/api/v1/stations/S1/batches",
        content=body,
        headers={"X-Signature": sign(key, body), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text[:300]
    huge = b" " * (33 * 1024 * 1024)
    response = w.client.post(
        "/api/v1/stations/S1/batches",
        content=huge,
        headers={"X-Signature": sign(key, huge), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    # an unknown station: 401 before the body is parsed (it is not JSON)
    other = generate_private_key()
    response = w.client.post(
        "/api/v1/stations/NOPE/batches",
        content=b"{not json",
        headers={"X-Signature": sign(other, b"{not json")},
    )
    assert response.status_code == 401
