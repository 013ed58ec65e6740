"""A notice and an instruction across two centers in process, over loopback HTTP: the
county center (CC's upstream) issues them for M1, which the mine center (MC) holds; they
come down in the county's answer to the mine center's signed decision poll, the mine's
duty operator acknowledges and answers there, the answer goes up in the forward queue;
the county sends the notice back and then verifies it, and the verdicts come down.
Overdue at the mine center is alarmed there and mirrored up to the county."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from coalwatch.federation.service import Forwarder
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.federation.conftest import served
from tests.support.world import World, world


def sessions(w: World) -> Any:
    return w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]


def state_of(w: World, number: str, token: str | None = None) -> str:
    return str(w.ok(w.get(f"/notices/{number}", token))["recipients"][0]["state"])


def test_a_notice_and_an_instruction_through_two_centers(down: World, upstream_url: str) -> None:
    mine = down
    mine_key = generate_private_key()
    with world(upstream_url, mine.clock()) as county:
        county.ok(county.post("/orgs", {"code": "C1", "name": "C1 县煤炭局", "kind": "county"}))
        county.ok(
            county.post(
                "/orgs", {"code": "X1", "name": "X1 煤业", "kind": "company", "parent": "C1"}
            )
        )
        county.ok(
            county.post(
                "/centers", {"code": "MC", "public_key": public_key_b64(mine_key), "org": "X1"}
            )
        )
        mine.ok(mine.post("/orgs", {"code": "X1", "name": "X1 煤业", "kind": "company"}))
        mine.mine("M1", org="X1", belts=("B1",))
        with served(county.client.app) as county_url:
            up = Forwarder(county_url, "MC", mine_key)
            assert up.forward_due(sessions(mine), mine.clock()) > 0  # M1 is known upstream

            # the mine's own center cannot issue to its mine (no supervising unit there)
            finding = [{"kind": "finding", "label": "备用电源不能连续工作1小时"}]
            notice = {
                "kind": "notice",
                "mine": "M1",
                "title": "备用电源整改",
                "problem": "UPS 测试不足15分钟",
                "measures": "更换电池并重新测试",
                "deadline": (mine.clock() + timedelta(days=2)).isoformat(),
                "cites": finding,
                "attachments": [
                    {
                        "name": "测试记录.txt",
                        "media_type": "text/plain",
                        "content_b64": base64.b64encode("12 分钟".encode()).decode(),
                    }
                ],
            }
            assert mine.post("/notices", notice).status_code == 403
            number = county.ok(county.post("/notices", notice))["number"]
            instruction = {
                "kind": "instruction",
                "mine": "M1",
                "title": "迎检准备",
                "problem": "整理监控系统台账",
                "deadline": (mine.clock() + timedelta(days=1)).isoformat(),
            }
            order = county.ok(county.post("/notices", instruction))["number"]

            # down, in the answer to the signed poll: the same number, text and file
            up.forward_due(sessions(mine), mine.clock())
            copy = mine.ok(mine.get(f"/notices/{number}"))
            assert copy["origin"] == "C1 C1 县煤炭局"
            assert (copy["title"], copy["measures"]) == ("备用电源整改", "更换电池并重新测试")
            assert [c["label"] for c in copy["cites"]] == ["备用电源不能连续工作1小时"]
            (file,) = copy["attachments"]
            got = mine.get(f"/notices/{number}/attachments/{file['id']}")
            assert got.content == "12 分钟".encode()
            assert state_of(mine, order) == "issued"

            # unacknowledged at the mine center after 2 h: alarmed there, mirrored up
            mine.clock.advance(hours=2)
            county.clock.advance(hours=2)
            mine.tick()
            assert sorted(
                a["params"]["number"] for a in mine.alarms(type="instruction_overdue")
            ) == [order]
            up.forward_due(sessions(mine), mine.clock())
            mirrored = county.alarms(type="notice_overdue")
            assert [(a["mine"], a["params"]["stage"]) for a in mirrored] == [
                ("M1", "unacknowledged")
            ]
            # the county judges no mine another center holds: one alarm each, the mirror
            county.tick()
            assert len(county.alarms(type="notice_overdue")) == 1

            # the mine acknowledges and answers at its center; the replies go up
            mine.ok(mine.post(f"/notices/{number}/ack", {"passed_to": "调度室"}))
            mine.ok(mine.post(f"/notices/{number}/answer", {"answer": "已更换电池"}))
            mine.ok(mine.post(f"/notices/{order}/ack", {}))
            mine.ok(mine.post(f"/notices/{order}/answer", {"answer": "台账已整理"}))
            # a notice from above is verified above, not at the mine center
            assert mine.post(f"/notices/{number}/verify", {}).status_code == 403
            up.forward_due(sessions(mine), mine.clock())
            at_county = county.ok(county.get(f"/notices/{number}"))["recipients"][0]
            assert (at_county["state"], at_county["answer"], at_county["passed_to"]) == (
                "answered",
                "已更换电池",
                "调度室",
            )
            assert state_of(county, order) == "closed"
            assert county.alarms(type="notice_overdue")[0]["end"] is not None

            # sent back from the county, answered again, verified: each verdict comes down
            back = {
                "reason": "未附测试记录",
                "deadline": (county.clock() + timedelta(days=1)).isoformat(),
            }
            county.ok(county.post(f"/notices/{number}/return", back))
            up.forward_due(sessions(mine), mine.clock())
            returned = mine.ok(mine.get(f"/notices/{number}"))["recipients"][0]
            assert (returned["state"], returned["verdict_note"]) == ("returned", "未附测试记录")
            mine.ok(mine.post(f"/notices/{number}/answer", {"answer": "已补测 20 分钟"}))
            up.forward_due(sessions(mine), mine.clock())
            assert state_of(county, number) == "answered"
            county.ok(county.post(f"/notices/{number}/verify", {"note": "合格"}))
            up.forward_due(sessions(mine), mine.clock())
            closed = mine.ok(mine.get(f"/notices/{number}"))["recipients"][0]
            assert (closed["state"], closed["verdict_note"]) == ("closed", "合格")
            # nothing was refused either way
            assert county.ok(county.get("/centers/MC/rejects"))["items"] == []
