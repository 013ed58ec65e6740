"""A signed summary travels upward as the daily report does: the upstream keeps it as
received once its SHA-256 and its signatures check against its content, and refuses one
whose content was changed on the way."""

from __future__ import annotations

import json

from coalwatch.summaries.service import SUMMARY
from tests.federation.conftest import T0
from tests.federation.test_forwarding import configure, queued, register_downstream, send
from tests.support.world import World, world


def test_a_signed_abnormal_situation_report_reaches_the_upstream(
    down: World, sqlite_url: str
) -> None:
    """One backend: the message's checks are not storage-specific."""
    configure(down)
    # 14 March has ended (the clock: 15 March 12:00 local); the duty mine manager signs
    signed = down.ok(
        down.post("/mines/M1/summaries/abnormal/2026-03-14/sign", {"role": "duty_mine_manager"})
    )
    assert signed["submitted_at"] is not None
    items = queued(down)
    [summary] = [(s, k, p) for s, k, p in items if k == SUMMARY]
    assert summary[2]["sha256"] == signed["sha256"]
    forged = dict(summary[2], content=summary[2]["content"].replace("M1 矿", "别的矿"))
    with world(sqlite_url, T0) as up:
        key = register_downstream(up)
        assert up.ok(send(up, key, items))["rejected"] == []
        # the same summary again, its content changed on the way: refused
        answer = up.ok(send(up, key, [(items[-1][0] + 1, SUMMARY, forged)]))
        assert "SHA-256" in answer["rejected"][0]["reason"]
        [received] = up.ok(up.get("/summaries/received", mine="M1"))["items"]
        assert (received["kind"], received["period"], received["revision"]) == (
            "abnormal",
            "2026-03-14",
            1,
        )
        assert [s["role"] for s in received["signatures"]] == ["duty_mine_manager"]
        assert received["sha256"] == signed["sha256"]
        assert json.dumps(received["content"]["mine"]) == '"M1"'
