"""Forwarding between two centers, in process: the downstream queues what it accepted in
the same transaction, the upstream applies it once, in order, and computes the same
figures; a relayed batch altered on the way is rejected and alarmed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from httpx import Response
from sqlalchemy import select

from coalwatch.cli import main
from coalwatch.federation import repository
from coalwatch.federation.models import ForwardItem
from coalwatch.federation.queue import CONFIG, enable_forwarding, enqueue
from coalwatch.federation.service import TAMPERED
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.signing import (
    generate_private_key,
    load_private_key_pem,
    public_key_b64,
    sign,
)
from tests.support.world import World, totalizer, trip, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def queued(w: World) -> list[tuple[int, str, dict[str, Any]]]:
    engine = make_engine(w.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return [
                (i.id, i.kind, json.loads(i.payload))
                for i in session.scalars(select(ForwardItem).order_by(ForwardItem.id))
            ]
    finally:
        engine.dispose()


def send(
    up: World, key: Ed25519PrivateKey, items: list[tuple[int, str, dict[str, Any]]]
) -> Response:
    body = json.dumps(
        {
            "center": "MC",
            "sent_at": up.clock().isoformat(),
            "items": [{"seq": s, "kind": k, "payload": p} for s, k, p in items],
        }
    ).encode()
    return up.client.post(
        "/api/v1/centers/MC/batches",
        content=body,
        headers={"X-Signature": sign(key, body), "Content-Type": "application/json"},
    )


def configure(down: World) -> None:
    down.mine("M1", org="C1", belts=("B1",), trips=("K1",))
    down.ok(down.put("/mines/M1/plans/2026-03", {"month_t": 30000}))
    down.ok(
        down.post(
            "/mines/M1/coefficients",
            {"percent": 3, "effective_from": "2026-01-01", "effective_to": "2026-12-31"},
        )
    )


def feed(down: World, manual: bool = True) -> None:
    """Five readings of S1, and (``manual``) manual production approved at this center."""
    t = T0 - timedelta(hours=3)
    seq = down.stations["S1"].seqs(5)
    down.ok(
        down.upload(
            "S1",
            [
                totalizer(seq[0], t, "B1", 100),
                totalizer(seq[1], t + timedelta(minutes=30), "B1", 130.5),
                totalizer(seq[2], t + timedelta(hours=1, minutes=10), "B1", 170),
                trip(seq[3], t + timedelta(minutes=20), "K1", 12.25),
            ],
        )
    )
    down.ok(down.upload("S1", [totalizer(seq[4], t + timedelta(hours=2), "B1", 171.5)]))
    if not manual:
        return
    down.ok(
        down.post(
            "/mines/M1/manual-production",
            {
                "point": "B1",
                "start": (t - timedelta(hours=2)).isoformat(),
                "end": (t - timedelta(hours=1)).isoformat(),
                "gross_t": 40,
                "reason": "scale fault",
            },
        )
    )


def figures(w: World, period: str) -> Any:
    return w.ok(
        w.get(
            "/mines/M1/production",
            period=period,
            **{
                "from": "2026-03-01T00:00:00+08:00",
                "to": "2026-04-01T00:00:00+08:00"
                if period != "hour"
                else "2026-03-16T00:00:00+08:00",
            },
        )
    )["items"]


def register_downstream(up: World) -> Ed25519PrivateKey:
    up.ok(up.post("/orgs", {"code": "C1", "name": "C1 县", "kind": "county"}))
    key = generate_private_key()
    up.ok(up.post("/centers", {"code": "MC", "public_key": public_key_b64(key), "org": "C1"}))
    return key


def test_changes_are_queued_in_their_transaction_in_order(database_url: str) -> None:
    with world(database_url, T0) as down:
        enable_forwarding(down.client.app.state.coalwatch.sessions, "MC")  # type: ignore[attr-defined]
        _queued_in_order(down)


def _queued_in_order(down: World) -> None:
    configure(down)
    feed(down)
    items = queued(down)
    ops = [p["op"] if k == "config" else k for _, k, p in items]
    assert ops[:4] == ["org.create", "mine.create", "point.create", "point.create"]
    assert ops[4:] == [
        "station.register",
        "mine.plan",
        "mine.coefficient",
        "station_batch",
        "station_batch",
        "production.manual",
    ]
    assert [i for i, _, _ in items] == sorted(i for i, _, _ in items)
    # a batch of duplicates only changes nothing and is not queued
    body_item = items[7][2]
    assert (
        down.client.post(
            "/api/v1/stations/S1/batches",
            content=base64.b64decode(body_item["body_b64"]),
            headers={"X-Signature": body_item["signature"], "Content-Type": "application/json"},
        ).json()["duplicates"]
        == 4
    )
    assert len(queued(down)) == len(items)


def test_a_center_without_upstream_queues_nothing(database_url: str) -> None:
    with world(database_url, T0) as w:
        configure(w)
        assert queued(w) == []


def test_the_upstream_computes_the_same_figures_once(down: World, upstream_url: str) -> None:
    configure(down)
    feed(down)
    items = queued(down)
    with world(upstream_url, T0 + timedelta(days=3)) as up:
        key = register_downstream(up)
        first = up.ok(send(up, key, items[:6]))
        assert first["acked_seq"] == items[5][0] and first["rejected"] == []
        answer = up.ok(send(up, key, items))  # resent after a lost answer: once only
        assert answer["duplicates"] == 6 and answer["rejected"] == []
        assert up.ok(send(up, key, items))["duplicates"] == len(items)
        for period in ("hour", "day", "month"):
            assert figures(up, period) == figures(down, period)
        assert [r["seq"] for r in up.ok(up.get("/mines/M1/records"))["items"]] == [1, 4, 2, 3, 5]
        mine = up.ok(up.get("/mines"))["items"][0]
        assert mine["stations"][0]["public_key"] == public_key_b64(down.stations["S1"].key)


def test_a_batch_altered_in_transit_is_rejected_and_alarmed(down: World, upstream_url: str) -> None:
    configure(down)
    feed(down)
    items = queued(down)
    seq, kind, payload = items[7]
    body = base64.b64decode(payload["body_b64"]).replace(b'"total_t":130.5', b'"total_t":930.5')
    assert body != base64.b64decode(payload["body_b64"])
    items[7] = (seq, kind, {**payload, "body_b64": base64.b64encode(body).decode()})
    with world(upstream_url, T0 + timedelta(days=3)) as up:
        key = register_downstream(up)
        answer = up.ok(send(up, key, items))
        assert [r["seq"] for r in answer["rejected"]] == [seq]
        assert answer["acked_seq"] == items[-1][0]
        alarms = up.alarms()
        assert [(a["type"], a["detail"]) for a in alarms if a["detail"] == TAMPERED] == [
            ("invalid_data", TAMPERED)
        ]
        rejects = up.ok(up.get("/centers/MC/rejects"))["items"]
        assert [r["seq"] for r in rejects] == [seq]
        # the rest went through: the second batch and the manual entry
        assert [r["seq"] for r in up.ok(up.get("/mines/M1/records"))["items"]] == [5]


def test_a_batch_not_signed_by_the_center_changes_nothing(down: World, upstream_url: str) -> None:
    configure(down)
    with world(upstream_url, T0) as up:
        register_downstream(up)
        response = send(up, generate_private_key(), queued(down))
        assert response.status_code == 401
        assert up.ok(up.get("/centers"))["items"][0]["acked_seq"] == 0
        assert up.ok(up.get("/mines"))["items"] == []


def test_queue_ids_are_never_reused_once_the_queue_is_empty(database_url: str) -> None:
    """They are seqs at the upstream: a reused id would be taken for a duplicate."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    enable_forwarding(sessions, "MC")
    try:
        with transaction(sessions) as session:
            enqueue(session, CONFIG, {"op": "x"}, T0)
            enqueue(session, CONFIG, {"op": "y"}, T0)
        with transaction(sessions) as session:
            first = [i.id for i in repository.queued(session, 10)]
            repository.remove_queued(session, first)
        with transaction(sessions) as session:
            enqueue(session, CONFIG, {"op": "z"}, T0)
        with transaction(sessions) as session:
            assert [i.id for i in repository.queued(session, 10)] == [max(first) + 1]
    finally:
        engine.dispose()


def test_center_keygen_writes_a_key_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "center.key"
    assert main(["center", "keygen", "--key-file", str(path)]) == 0
    public = capsys.readouterr().out.strip().splitlines()[-1]
    assert public_key_b64(load_private_key_pem(path.read_bytes())) == public
    assert path.stat().st_mode & 0o777 == 0o600
    assert main(["center", "keygen", "--key-file", str(path)]) == 1


def alarm_set(w: World) -> list[tuple[Any, ...]]:
    keys = ("type", "severity", "mine", "point", "start", "end", "state", "detail")
    return sorted(tuple(a[k] for k in keys) for a in w.alarms())


def test_alarms_are_mirrored_not_evaluated_again(down: World, upstream_url: str) -> None:
    """The upstream keeps the downstream's alarms and their transitions; it does not raise
    its own for a mine its downstream center manages."""
    configure(down)
    feed(down)
    (seq,) = down.stations["S1"].seqs(1)
    bad = down.ok(down.upload("S1", [totalizer(seq, T0 - timedelta(minutes=5), "NOPE", 1)]))
    assert [r["seq"] for r in bad["rejected"]] == [seq]
    (alarm,) = [a for a in down.alarms() if a["type"] == "invalid_data"]
    with world(upstream_url, T0 + timedelta(days=3)) as up:
        key = register_downstream(up)
        up.ok(send(up, key, queued(down)))
        assert alarm_set(up) == alarm_set(down) != []
        down.ok(down.post(f"/alarms/{alarm['id']}/ack", {}))
        up.ok(send(up, key, queued(down)))
        assert alarm_set(up) == alarm_set(down)
        assert "acknowledged" in {a["state"] for a in up.alarms()}
        mirrored = next(a for a in up.alarms() if a["type"] == "invalid_data")
        handled = up.post(f"/alarms/{mirrored['id']}/handle", {"result": "checked"})
        assert handled.status_code == 409 and "mirrored" in handled.text
        up.tick()  # the upstream's timers leave the managed mine alone
        assert alarm_set(up) == alarm_set(down)
