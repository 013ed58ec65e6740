"""Three real centers on loopback, mine → county → province: the mine center is fed
signed station batches, the county is stopped for part of the run, and afterwards all
three hold the same hour / day / month figures and the same alarms (configuration
reached the upper levels by forwarding too; alarms are mirrored, not evaluated again).
A fault reported upward, a fault closed unreported (its capacity reduction) and a signed
daily report then reach both upper levels, and the figures (capacity, ratio) stay the same.
Then a batch altered in the mine center's queue is rejected by the county, which raises
the alarm, and the batches after it still go through."""

from __future__ import annotations

import base64
import json
import sqlite3
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from coalwatch.federation.service import TAMPERED
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, private_key_pem, public_key_b64, sign
from tests.e2e.harness import Center, wait_for
from tests.support.world import totalizer, trip

# three centers on SQLite, each commit synchronous (durable), on a shared machine
pytestmark = pytest.mark.timeout(240)


def center_key(directory: Path) -> tuple[Path, str]:
    key = generate_private_key()
    path = directory / "center.key"
    path.write_bytes(private_key_pem(key))
    path.chmod(0o600)
    return path, public_key_b64(key)


@pytest.fixture
def centers(tmp_path: Path) -> Iterator[tuple[Center, Center, Center]]:
    made = []
    for name in ("province", "county", "mine"):
        (tmp_path / name).mkdir()
        center = Center(tmp_path / name)
        center.env["COALWATCH_JOBS_INTERVAL_S"] = "0.5"
        made.append(center)
    province, county, mine = made
    try:
        yield province, county, mine
    finally:
        for center in made:
            center.stop()


def upload(center: Center, station: str, key: Any, records: list[dict[str, Any]]) -> Any:
    body = encode_batch(station, datetime.now(UTC), records)
    request = urllib.request.Request(
        f"{center.url}/api/v1/stations/{station}/batches",
        data=body,
        method="POST",
        headers={"X-Signature": sign(key, body), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def figures(center: Center) -> dict[str, Any]:
    now = datetime.now(UTC)
    out = {}
    for period in ("hour", "day", "month"):
        out[period] = center.api(
            "GET",
            "/mines/M1/production",
            period=period,
            **{
                "from": (now - timedelta(days=2)).isoformat(),
                "to": (now + timedelta(hours=1)).isoformat(),
            },
        )["items"]
    return out


def alarm_set(center: Center) -> list[tuple[Any, ...]]:
    keys = ("type", "severity", "mine", "point", "start", "end", "state", "detail")
    return sorted(tuple(a[k] for k in keys) for a in center.api("GET", "/alarms")["items"])


def mine_known(center: Center) -> bool:
    return any(m["code"] == "M1" for m in center.api("GET", "/mines")["items"])


def test_three_levels_hold_the_same_figures_through_an_outage(
    centers: tuple[Center, Center, Center], sqlite_template: Path
) -> None:
    province, county, mine = centers
    mine_key_file, mine_public = center_key(mine.directory)
    county_key_file, county_public = center_key(county.directory)
    mine.env.update(
        COALWATCH_UPSTREAM_URL=county.url,
        COALWATCH_CENTER_CODE="MC",
        COALWATCH_CENTER_KEY_FILE=str(mine_key_file),
    )
    county.env.update(
        COALWATCH_UPSTREAM_URL=province.url,
        COALWATCH_CENTER_CODE="CC",
        COALWATCH_CENTER_KEY_FILE=str(county_key_file),
    )
    for center in (province, county, mine):
        center.prepare(sqlite_template)
        center.start()

    province.api("POST", "/orgs", {"code": "C1", "name": "县", "kind": "county"})
    province.api("POST", "/centers", {"code": "CC", "public_key": county_public, "org": "C1"})
    county.api("POST", "/orgs", {"code": "C1", "name": "县", "kind": "county"})
    county.api("POST", "/centers", {"code": "MC", "public_key": mine_public, "org": "C1"})
    station_key = generate_private_key()
    mine.api("POST", "/orgs", {"code": "C1", "name": "县", "kind": "county"})
    mine.api("POST", "/orgs", {"code": "X1", "name": "公司", "kind": "company", "parent": "C1"})
    mine.api(
        "POST", "/mines", {"code": "M1", "name": "矿", "org": "X1", "annual_capacity_t": 1200000}
    )
    mine.api("POST", "/mines/M1/points", {"code": "B1", "name": "皮带秤", "kind": "belt"})
    mine.api("POST", "/mines/M1/points", {"code": "K1", "name": "箕斗", "kind": "skip"})
    mine.api(
        "POST", "/mines/M1/stations", {"code": "S1", "public_key": public_key_b64(station_key)}
    )

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=8)
    seq = 0
    total = 1000.0

    def feed(hours: range) -> None:
        nonlocal seq, total
        for hour in hours:
            records = []
            for minute in (0, 20, 40):
                seq += 1
                total += 10.5
                ts = start + timedelta(hours=hour, minutes=minute)
                records.append(totalizer(seq, ts, "B1", round(total, 3)))
            seq += 1
            records.append(trip(seq, start + timedelta(hours=hour, minutes=50), "K1", 8.25))
            assert upload(mine, "S1", station_key, records)["acked_seq"] == seq

    feed(range(0, 2))
    seq += 1  # a record for a point the mine does not have: invalid_data at the mine center
    bad = upload(mine, "S1", station_key, [totalizer(seq, start + timedelta(hours=2), "NOPE", 1)])
    assert [r["seq"] for r in bad["rejected"]] == [seq]
    wait_for(lambda: mine_known(province), 30, "the configuration to reach the province")
    county.stop()  # the county is down: the mine center keeps what it accepted
    feed(range(2, 4))
    county.start()  # same port, same database
    feed(range(4, 5))

    expected = figures(mine)
    assert sum(len(v) for v in expected.values()) > 0
    wait_for(lambda: figures(county) == expected, 45, "the county to catch up")
    wait_for(lambda: figures(province) == expected, 45, "the province to catch up")
    assert len(province.records("M1")) == seq - 1 == len(mine.records("M1"))
    alarms = alarm_set(mine)
    assert "invalid_data" in {a[0] for a in alarms}
    wait_for(lambda: alarm_set(county) == alarms, 30, "the county's alarms")
    wait_for(lambda: alarm_set(province) == alarms, 30, "the province's alarms")
    for center in (county, province):
        assert center.api("GET", "/centers")["items"][0]["acked_seq"] > 0

    upward_messages(province, county, mine)

    # a record altered in the mine center's queue: the county rejects it and alarms
    county.stop()
    tampered_seq = seq + 1
    feed(range(5, 6))
    tamper(mine.directory / "center.db", tampered_seq)
    feed(range(6, 7))
    county.start()
    wait_for(
        lambda: len(county.records("M1")) == seq - 5 and len(province.records("M1")) == seq - 5,
        45,
        "the batches after the altered one to go through",
    )
    alarms = county.api("GET", "/alarms")["items"]
    assert [a["type"] for a in alarms if a["detail"] == TAMPERED] == ["invalid_data"]
    assert [r["reason"] for r in county.api("GET", "/centers/MC/rejects")["items"]] == [
        "the signature does not match the body and the station's key"
    ]


def fault_set(center: Center) -> list[tuple[Any, ...]]:
    keys = ("mine", "kind", "phenomenon", "occurred_at", "closed_at", "reduction_t")
    return sorted(tuple(f[k] for k in keys) for f in center.api("GET", "/faults")["items"])


def capacity(center: Center) -> Any:
    return center.api("GET", "/mines")["items"][0]["annual_capacity_t"]


def upward_messages(province: Center, county: Center, mine: Center) -> None:
    """A fault reported upward, a fault closed unreported (its capacity reduction) and a
    signed daily report reach both levels above; the figures stay the same."""
    now = datetime.now(UTC)
    reported = mine.api(
        "POST",
        "/mines/M1/faults",
        {"phenomenon": "通讯中断", "occurred_at": (now - timedelta(minutes=20)).isoformat()},
    )
    mine.api("POST", f"/faults/{reported['id']}/report", {})
    unreported = mine.api(
        "POST",
        "/mines/M1/faults",
        {"phenomenon": "皮带秤无数据", "occurred_at": (now - timedelta(hours=3)).isoformat()},
    )
    closed = mine.api("POST", f"/faults/{unreported['id']}/close", {"result": "换传感器"})
    tz = ZoneInfo("Asia/Shanghai")
    days = 1 + ((now.astimezone(tz).date() - (now - timedelta(hours=3)).astimezone(tz).date()).days)
    # not reported within 2 h: 1200000 / 330 × 3 = 10909.0909… t a fault day (1, or 2 when the
    # fault began before local midnight: 21818.1818…)
    assert closed["reduction_t"] == {1: Decimal("10909.091"), 2: Decimal("21818.182")}[days]
    day = (now.astimezone(tz).date() - timedelta(days=1)).isoformat()
    for role in ("duty_operator", "duty_mine_manager", "chief_engineer"):
        mine.api("POST", f"/mines/M1/reports/daily/{day}/sign", {"role": role})
    (signed,) = mine.api("GET", "/orgs/C1/report-status", day=day)["items"]
    assert signed["state"] == "submitted"
    faults, expected = fault_set(mine), figures(mine)
    for center in (county, province):
        wait_for(lambda c=center: fault_set(c) == faults, 30, "the faults to arrive")
        wait_for(lambda c=center: figures(c) == expected, 30, "the reduced figures")
        assert capacity(center) == capacity(mine)
        there = {f["phenomenon"]: f for f in center.api("GET", "/faults")["items"]}
        assert there["通讯中断"]["reported_at"] is not None  # when the report arrived there
        status = wait_for(
            lambda c=center: received(c, day),
            30,
            "the signed report to arrive",
        )
        assert (status["state"], status["sha256"]) == ("submitted", signed["sha256"])


def received(center: Center, day: str) -> Any:
    """The mine's report status of ``day`` once its signed report arrived, else None."""
    (status,) = center.api("GET", "/orgs/C1/report-status", day=day)["items"]
    return status if status["received_at"] is not None else None


def tamper(database: Path, record_seq: int) -> None:
    """Raise a totalizer reading of the queued batch holding ``record_seq`` by 500 t."""
    db = sqlite3.connect(database, timeout=30)
    try:
        for item_id, payload in db.execute(
            "SELECT id, payload FROM forward_queue WHERE kind = 'station_batch'"
        ).fetchall():
            item = json.loads(payload)
            body = json.loads(base64.b64decode(item["body_b64"]))
            if any(r["seq"] == record_seq for r in body["records"]):
                body["records"][0]["total_t"] += 500
                item["body_b64"] = base64.b64encode(json.dumps(body).encode()).decode()
                with db:
                    db.execute(
                        "UPDATE forward_queue SET payload = ? WHERE id = ?",
                        (json.dumps(item), item_id),
                    )
                return
        raise AssertionError(f"no queued batch holds seq {record_seq}")
    finally:
        db.close()
