"""Authority flows down, measurements flow up, between two centers in process: the
upstream refuses a mine's yardstick pushed up by a mine-level center (403 for that item,
alarm ``forwarding_refused``) and applies the rest of the batch; a supervising unit's
center reports its decisions up; the downstream's audit checkpoints are kept upstream,
and one that no longer extends them raises ``data_tamper`` there."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from coalwatch.audit.checkpoints import Checkpoint, _payload
from coalwatch.federation.models import ReceivedCheckpoint
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign
from tests.federation.test_forwarding import T0, configure, feed, queued, send
from tests.support.world import World, world


def register(up: World, org: str, kind: str) -> Ed25519PrivateKey:
    """The upstream's tree C1 (county) → X1 (company); center MC registered for ``org``."""
    up.ok(up.post("/orgs", {"code": "C1", "name": "C1 县", "kind": "county"}))
    up.ok(up.post("/orgs", {"code": "X1", "name": "X1 公司", "kind": "company", "parent": "C1"}))
    key = generate_private_key()
    up.ok(up.post("/centers", {"code": "MC", "public_key": public_key_b64(key), "org": org}))
    assert kind in {"county", "company"}
    return key


def capacity_item(seq: int, tonnes: int) -> tuple[int, str, dict[str, Any]]:
    data = {"annual_capacity_t": tonnes, "effective_from": "2026-01-01"}
    return (seq, "config", {"op": "mine.capacity", "key": "M1", "data": data})


def capacity_of(w: World) -> Any:
    return w.ok(w.get("/mines"))["items"][0]["annual_capacity_t"]


def test_a_mine_centers_yardsticks_are_refused_and_alarmed(down: World, upstream_url: str) -> None:
    down.ok(down.post("/orgs", {"code": "X1", "name": "X1 公司", "kind": "company"}))
    down.mine("M1", org="X1", belts=("B1",), trips=("K1",))
    # a mine's own center approves nothing of its own: no manual production here
    feed(down, manual=False)
    items = queued(down)
    last = items[-1][0]
    # the mine center's own capacity, plan and coefficient, pushed up between its records
    pushed = [
        capacity_item(last + 1, 9_900_000),
        (last + 2, "config", {"op": "mine.plan", "key": "M1/2026-03", "data": {"month_t": 1}}),
        (last + 3, "config", {"op": "no.such_op", "key": "M1", "data": {}}),
    ]
    with world(upstream_url, T0 + timedelta(days=3)) as up:
        key = register(up, "X1", "company")
        answer = up.ok(send(up, key, items[:6] + pushed + items[6:]))
        assert [(r["seq"], r["status"]) for r in answer["rejected"]] == [
            (last + 1, 403),
            (last + 2, 403),
            (last + 3, 403),
        ]
        assert "decided by a supervising unit above the mine" in answer["rejected"][0]["reason"]
        assert "region:capacity" in answer["rejected"][0]["reason"]
        assert answer["acked_seq"] == last + 3
        # the declared capacity of the mine's registration stands: 330,000 t (world.mine)
        assert capacity_of(up) == 330000
        refused = [a for a in up.alarms() if a["type"] == "forwarding_refused"]
        assert sorted((a["mine"], a["value"], a["severity"]) for a in refused) == [
            ("M1", "mine.capacity", "major"),
            ("M1", "mine.plan", "major"),
            ("M1", "no.such_op", "major"),
        ]
        # the records of the batch went through: seqs 1–5 of station S1
        records = up.ok(up.get("/mines/M1/records"))["items"]
        assert sorted(r["seq"] for r in records) == [1, 2, 3, 4, 5]
        rejects = up.ok(up.get("/centers/MC/rejects"))["items"]
        assert {r["seq"] for r in rejects} == {last + 1, last + 2, last + 3}


def test_a_supervising_units_center_reports_its_decisions_up(
    down: World, upstream_url: str
) -> None:
    """A county center below a province: its capacity and plan reach the province."""
    configure(down)  # C1 (county) → M1, a plan of 30,000 t and a coefficient of 3 %
    with world(upstream_url, T0 + timedelta(days=3)) as up:
        key = register(up, "C1", "county")
        answer = up.ok(send(up, key, [*queued(down), capacity_item(10_000, 600_000)]))
        assert answer["rejected"] == []
        assert capacity_of(up) == 600000
        assert [a for a in up.alarms() if a["type"] == "forwarding_refused"] == []


def _checkpoint(key: Ed25519PrivateKey, count: int, head: int, digest: str) -> dict[str, Any]:
    at = T0
    return json.loads(
        Checkpoint(
            at=at,
            entry_count=count,
            head_id=head,
            head_hash=digest,
            public_key=public_key_b64(key),
            signature=sign(key, _payload(count, head, digest, at)),
        ).as_json()
    )


def test_downstream_checkpoints_are_kept_and_a_cut_log_is_named(upstream_url: str) -> None:
    with world(upstream_url, T0) as up:
        key = register(up, "X1", "company")
        first = _checkpoint(key, 40, 40, "a" * 64)
        later = _checkpoint(key, 55, 55, "b" * 64)
        up.ok(send(up, key, [(1, "audit_checkpoint", first), (2, "audit_checkpoint", later)]))
        kept = up.ok(up.get("/centers/MC/checkpoints"))["items"]
        assert [(c["entry_count"], c["head_id"]) for c in kept] == [(40, 40), (55, 55)]
        assert [a for a in up.alarms() if a["type"] == "data_tamper"] == []
        # a forged checkpoint (another key) is refused, not kept
        forged = _checkpoint(generate_private_key(), 60, 60, "c" * 64)
        answer = up.ok(send(up, key, [(3, "audit_checkpoint", forged)]))
        assert [r["status"] for r in answer["rejected"]] == [401]
        # the downstream cut its log to 50 entries and signed again: named here
        cut = _checkpoint(key, 50, 50, "d" * 64)
        up.ok(send(up, key, [(4, "audit_checkpoint", cut)]))
        (alarm,) = [a for a in up.alarms() if a["type"] == "data_tamper"]
        assert alarm["mine"] is None and "audit entries were removed" in alarm["detail"]
        assert "counted 55 entries up to entry 55" in alarm["detail"]
        engine = make_engine(up.url)
        with transaction(make_sessionmaker(engine)) as session:
            assert session.scalar(select(func.count()).select_from(ReceivedCheckpoint)) == 3
        engine.dispose()


def test_a_rewritten_head_is_named(upstream_url: str) -> None:
    with world(upstream_url, T0) as up:
        key = register(up, "X1", "company")
        up.ok(send(up, key, [(1, "audit_checkpoint", _checkpoint(key, 40, 40, "a" * 64))]))
        up.ok(send(up, key, [(2, "audit_checkpoint", _checkpoint(key, 40, 40, "e" * 64))]))
        (alarm,) = [a for a in up.alarms() if a["type"] == "data_tamper"]
        assert "audit chain was rewritten: entry 40" in alarm["detail"]


def poll(up: World, key: Ed25519PrivateKey, applied: list[int]) -> Any:
    body = json.dumps({"center": "MC", "sent_at": T0.isoformat(), "applied": applied}).encode()
    return up.client.post(
        "/api/v1/centers/MC/decisions",
        content=body,
        headers={"X-Signature": sign(key, body), "Content-Type": "application/json"},
    )


def test_decisions_wait_for_the_center_holding_the_mine_until_applied(
    down: World, upstream_url: str
) -> None:
    """The supervising unit registered the mine first, with its approved capacity; the
    mine center's registration then makes it the holder, and what the unit decides
    waits for it."""
    down.ok(down.post("/orgs", {"code": "X1", "name": "X1 公司", "kind": "company"}))
    down.mine("M1", org="X1", capacity_t=9_900_000, belts=("B1",))
    with world(upstream_url, T0) as up:
        key = register(up, "X1", "company")
        up.ok(
            up.post(
                "/mines", {"code": "M1", "name": "M1 矿", "org": "X1", "annual_capacity_t": 600_000}
            )
        )
        assert poll(up, key, []).json() == {"items": []}  # nobody holds M1 yet
        assert up.ok(send(up, key, queued(down)))["rejected"] == []
        assert capacity_of(up) == 600_000  # the mine's declared 9.9 Mt does not replace it
        up.ok(up.put("/mines/M1/plans/2026-03", {"month_t": 45_000}))
        assert poll(up, generate_private_key(), []).status_code == 401
        (item,) = up.ok(poll(up, key, []))["items"]
        assert (item["mine"], item["kind"], item["key"]) == ("M1", "mine.plan", "M1/2026-03")
        assert item["data"]["month_t"] == "45000" and item["unit"] == "C1 C1 县"
        assert item["decided_by"].startswith("token:")  # the world's write token
        assert up.ok(poll(up, key, []))["items"] == [item]  # until the center applied it
        assert up.ok(poll(up, key, [item["seq"]]))["items"] == []
