"""The batch parser and the upload endpoint under fuzzing (hypothesis): whatever the body,
never a 5xx, and a batch refused as a whole (4xx) leaves nothing behind: no record, no
quarantined record, no alarm, no gap, nothing to forward, the station's seq unchanged.

Bodies are signed with the station's key (so they reach the parser) unless the test says
otherwise: random bytes, random JSON trees, deep nesting, and near-valid batches with one
field replaced by something odd (huge numbers, unicode, nesting, wrong types).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.alarms.models import Alarm
from coalwatch.federation.models import ForwardItem
from coalwatch.storage.models import (
    HourlyProduction,
    QuarantinedRecord,
    Record,
    Station,
    StationGap,
)
from coalwatch.storage.session import transaction
from coalwatch.wire.batches import MalformedBody, parse_body
from coalwatch.wire.signing import sign
from tests.support.world import World, world

NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def valid_batch() -> dict[str, Any]:
    ts = (NOW - timedelta(minutes=30)).isoformat()
    return {
        "station": "S1",
        "sent_at": NOW.isoformat(),
        "records": [
            {"seq": 1, "ts": ts, "type": "totalizer", "point": "B1", "total_t": 100},
            {"seq": 2, "ts": ts, "type": "conveyor", "point": "B1", "running": True},
        ],
    }


def state(w: World) -> tuple[Any, ...]:
    """Row counts of everything an upload writes, and the station's bookkeeping."""
    sessions: sessionmaker[Session] = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    with transaction(sessions) as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (
                Record,
                QuarantinedRecord,
                Alarm,
                StationGap,
                ForwardItem,
                HourlyProduction,
            )
        )
        station = session.scalars(select(Station).where(Station.code == "S1")).one()
        return (*counts, station.max_seq, station.last_seen_at)


@pytest.fixture(scope="module")
def fw(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    """One center for every example (SQLite): an upload refused as a whole must not change
    it, so the examples do not disturb each other."""
    path = tmp_path_factory.mktemp("fuzz") / "coalwatch.db"
    shutil.copy(sqlite_template, path)
    with world(f"sqlite:///{path}", now=NOW) as w:
        w.mine("M1", org="C1")
        yield w


def upload(w: World, body: bytes, *, signed: bool = True) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Signature"] = sign(w.stations["S1"].key, body)
    else:
        headers["X-Signature"] = "AAAA"
    answer = w.client.post("/api/v1/stations/S1/batches", content=body, headers=headers)
    return answer.status_code, answer.text


def check(w: World, body: bytes, *, signed: bool = True) -> int:
    before = state(w)
    status, text = upload(w, body, signed=signed)
    assert status < 500, (status, text[:300], body[:200])
    if status >= 400:
        assert state(w) == before, (status, text[:300], body[:200])
        assert json.loads(text)["error"]["code"], text
    return status


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_tree = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
odd_value = (
    json_tree
    | st.sampled_from(
        [
            10**400,
            -(10**400),
            2**63,
            2**63 - 1,
            -1,
            0,
            "1e999999",
            "NaN",
            "",
            "\u0000",
            "煤" * 1000,
            "\ud7ff\U0010ffff",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00Z",
            [[[[[[[[[[1]]]]]]]]]],
        ]
    )
    | st.text(min_size=1, max_size=50)
)


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes_are_refused_and_store_nothing(fw: World, body: bytes) -> None:
    check(fw, body)


@FUZZ
@given(tree=json_tree)
def test_random_json_is_never_a_5xx(fw: World, tree: Any) -> None:
    check(fw, json.dumps(tree).encode())


@FUZZ
@given(
    where=st.sampled_from(["envelope", "record0", "record1"]),
    field=st.sampled_from(
        ["station", "sent_at", "records", "seq", "ts", "type", "point", "total_t", "running", "x"]
    ),
    value=odd_value,
    drop=st.booleans(),
)
def test_a_near_valid_batch_with_one_odd_field(
    fw: World, where: str, field: str, value: Any, drop: bool
) -> None:
    batch = valid_batch()
    target = batch if where == "envelope" else batch["records"][int(where[-1])]
    if drop:
        target.pop(field, None)
    else:
        target[field] = value
    check(fw, json.dumps(batch, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"station":"S1","sent_at":"2026-03-15T04:00:00Z","records":' + b"[" * 100_000,
        json.dumps({**valid_batch(), "records": [[[[[[[[[[{}]]]]]]]]]]}).encode(),
    ],
    ids=["arrays", "objects", "records", "record"],
)
def test_deep_nesting_is_refused_as_malformed(fw: World, body: bytes) -> None:
    before = state(fw)
    status, text = upload(fw, body)
    assert status in (400, 422), (status, text[:300])
    assert json.loads(text)["error"]["code"], text
    assert state(fw) == before


def test_the_parser_reports_deep_nesting_as_malformed() -> None:
    with pytest.raises(MalformedBody):
        parse_body(b"[" * 100_000)


@FUZZ
@given(body=st.binary(max_size=200) | json_tree.map(lambda t: json.dumps(t).encode()))
def test_an_unsigned_body_is_refused_before_it_is_read(fw: World, body: bytes) -> None:
    assert check(fw, body, signed=False) == 401


@FUZZ
@given(seq=st.integers(min_value=2**62, max_value=10**30) | st.just(2**63))
def test_a_huge_seq_is_quarantined_or_refused_never_stored_wrong(fw: World, seq: int) -> None:
    batch = valid_batch()
    batch["records"] = [{**batch["records"][0], "seq": seq}]
    check(fw, json.dumps(batch).encode())
