"""Who decides what (domain.md): the yardsticks a mine is judged by are decided by a
supervising unit above it; tried as the mine's own staff would, on SQLite and PostgreSQL.

County C1 (襄垣县煤炭工业局) holds company X1, which holds mine M1. The mine's staff
(值机员 op, 总工程师 ce, 矿长 mm) belong to X1, the county's 监管人员 reg to C1. Each
attempt of a mine's staff is refused with 403 naming the permission and the unit that
decides it; the same act by the county succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_admin
from coalwatch.errors import CoalwatchError
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import RoleUpdate, UserIn
from tests.duty.pages import PASSWORD, sign_in
from tests.support.world import World, world

COUNTY = "襄垣县煤炭工业局"
#: the capacity the mine's own staff try to set (9.9 Mt), and its licence
RAISED = {
    "annual_capacity_t": "9900000",
    "effective_from": "2026-01-01",
    "licence_no": "晋煤行审〔2026〕12号",
    "licence_date": "2026-01-05",
}
HALF_YEAR = {
    "kind": "half_year",
    "percent": "4.5",
    "effective_from": "2026-01-01",
    "effective_to": "2026-06-30",
    "analysis": "夹矸、伪顶混入",
}
PERMIT = {"start": "2026-03-16T08:00", "end": "2026-03-16T12:00", "reason": "检修皮带秤"}
PLAN = {"month": "2026-03", "month_t": "20000"}


def refusal(permission: str) -> str:
    return f"需要 {permission}：由 {COUNTY} 决定"


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": COUNTY, "kind": "county"}))
        w.ok(w.post("/orgs", {"code": "X1", "name": "宏达煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="X1")
        w.users(
            [
                ("op", "X1", ["duty_operator"]),
                ("ce", "X1", ["chief_engineer"]),
                ("mm", "X1", ["mine_manager"]),
                ("reg", "C1", ["regulator"]),
            ],
            PASSWORD,
            ready=True,
        )
        yield w


def browser(w: World, username: str) -> tuple[TestClient, str]:
    client = TestClient(w.client.app)
    return client, sign_in(client, username)


def send(who: tuple[TestClient, str], path: str, **fields: Any) -> Any:
    client, csrf = who
    return client.post(path, data={"csrf_token": csrf, **fields}, follow_redirects=False)


def capacity_t(w: World) -> float:
    mine = w.ok(w.get("/mines"))["items"][0]
    return float(mine["annual_capacity_t"])


def test_the_mines_operator_cannot_raise_its_capacity_and_the_county_can(w: World) -> None:
    answer = send(browser(w, "op"), "/production/M1/capacity", **RAISED)
    assert answer.status_code == 403, answer.text[:300]
    assert refusal("region:capacity") in answer.text
    assert capacity_t(w) == 330000
    # the API: a write token of the mine's company is refused the same way, as JSON
    mine_token = w.token_for("X1", write=True)
    api = w.put("/mines/M1/capacity", RAISED, token=mine_token)
    assert api.status_code == 403
    error = api.json()["error"]
    assert error["message"] == refusal("region:capacity")
    assert error["details"] == {"permission": "region:capacity", "unit": "C1", "unit_name": COUNTY}
    assert capacity_t(w) == 330000
    # the county decides: its regulator on the page, its token on the API
    answer = send(browser(w, "reg"), "/production/M1/capacity", **RAISED)
    assert answer.status_code == 303, answer.text[:300]
    assert capacity_t(w) == 9900000
    lowered = {**RAISED, "annual_capacity_t": "600000", "licence_no": "晋煤行审〔2026〕13号"}
    w.ok(w.put("/mines/M1/capacity", lowered, token=w.token_for("C1", write=True)))
    assert capacity_t(w) == 600000
    # each change shows with its licence document
    client, _ = browser(w, "reg")
    page = client.get("/production/capacity", params={"mine": "M1"}).text
    assert "晋煤行审〔2026〕12号" in page and "晋煤行审〔2026〕13号" in page


def test_the_mines_chief_engineer_cannot_approve_the_operators_coefficient(w: World) -> None:
    operator = browser(w, "op")
    assert send(operator, "/production/M1/coefficients", **HALF_YEAR).status_code == 303
    pending = w.ok(w.get("/coefficient-applications", status="pending"))["items"]
    assert [a["applied_by"] for a in pending] == ["op"]
    path = f"/production/M1/coefficient-applications/{pending[0]['id']}/approve"
    answer = send(browser(w, "ce"), path)
    assert answer.status_code == 403, answer.text[:300]
    assert refusal("region:coefficient") in answer.text
    assert w.ok(w.get("/coefficient-applications", status="pending"))["total"] == 1
    answer = send(browser(w, "reg"), path)
    assert answer.status_code == 303, answer.text[:300]
    approved = w.ok(w.get("/coefficient-applications", status="approved"))["items"]
    assert [a["decided_by"] for a in approved] == ["reg"]


def test_the_mine_manager_cannot_approve_a_permit_or_a_plan(w: World) -> None:
    manager = browser(w, "mm")
    answer = send(manager, "/production/M1/permits", **PERMIT)
    assert answer.status_code == 403, answer.text[:300]
    assert refusal("region:permit") in answer.text
    answer = send(manager, "/production/M1/plans", **PLAN)
    assert answer.status_code == 403, answer.text[:300]
    assert refusal("region:plan") in answer.text
    assert w.ok(w.get("/mines/M1/permits"))["items"] == []
    regulator = browser(w, "reg")
    assert send(regulator, "/production/M1/permits", **PERMIT).status_code == 303
    assert send(regulator, "/production/M1/plans", **PLAN).status_code == 303
    assert [p["approved_by"] for p in w.ok(w.get("/mines/M1/permits"))["items"]] == ["reg"]


def test_a_mine_level_user_is_never_given_a_supervising_permission(w: World) -> None:
    engine = make_engine(w.url)
    now = w.clock()
    try:
        with transaction(make_sessionmaker(engine)) as session:
            user = UserIn(
                username="op2", name="op2", org="X1", roles=["regulator"], password=PASSWORD
            )
            with pytest.raises(CoalwatchError) as refused:
                users.create_user(session, OPERATOR, user, now)
            assert refused.value.status == 422
            assert "region:capacity" in refused.value.message
            # the role the mine's operator holds cannot take a supervising permission
            role = next(r for r in users.list_roles(session, OPERATOR) if r.code == "duty_operator")
            wider = RoleUpdate(name=role.name, permissions=[*role.permissions, "region:capacity"])
            with pytest.raises(CoalwatchError) as refused:
                users.update_role(session, OPERATOR, "duty_operator", wider, now)
            assert refused.value.status == 409 and "op" in refused.value.message
            # at the county it may
            county = UserIn(
                username="reg2", name="reg2", org="C1", roles=["regulator"], password=PASSWORD
            )
            users.create_user(session, OPERATOR, county, now)
    finally:
        engine.dispose()


def test_a_shutdown_is_declared_by_the_mine_and_acknowledged_by_the_county(w: World) -> None:
    declared = send(
        browser(w, "op"),
        "/production/M1/shutdowns",
        start="2026-03-16T00:00",
        end="2026-03-20T00:00",
        reason="井下改造",
    )
    assert declared.status_code == 303
    (shutdown,) = w.ok(w.get("/mines/M1/shutdowns"))["items"]
    assert shutdown["declared_by"] == "op" and shutdown["acknowledged_by"] is None
    path = f"/production/M1/shutdowns/{shutdown['id']}/acknowledge"
    answer = send(browser(w, "mm"), path)
    assert answer.status_code == 403 and refusal("region:shutdown") in answer.text
    api = w.post(f"/mines/M1/shutdowns/{shutdown['id']}/acknowledge", None, w.token_for("X1", True))
    assert api.status_code == 403
    assert api.json()["error"]["message"] == refusal("region:shutdown")
    assert send(browser(w, "reg"), path).status_code == 303
    (shutdown,) = w.ok(w.get("/mines/M1/shutdowns"))["items"]
    assert shutdown["acknowledged_by"] == "reg"
    again = w.post(f"/mines/M1/shutdowns/{shutdown['id']}/acknowledge", None)
    assert again.status_code == 409


def month_figure(w: World) -> dict[str, Any]:
    span = {
        "period": "month",
        "from": "2026-03-01T00:00:00+08:00",
        "to": "2026-04-01T00:00:00+08:00",
    }
    (figure,) = w.ok(w.get("/mines/M1/production", **span))["items"]
    return dict(figure)


def test_the_pages_show_the_mine_what_it_applies_for_and_the_county_what_it_decides(
    w: World,
) -> None:
    capacity = "/production/capacity?mine=M1"
    mine = browser(w, "op")[0].get(capacity).text
    assert 'action="/production/M1/capacity-requests"' in mine
    assert 'action="/production/M1/plan-requests"' in mine
    assert 'action="/production/M1/capacity"' not in mine
    assert 'action="/production/M1/plans"' not in mine
    county = browser(w, "reg")[0].get(capacity).text
    assert 'action="/production/M1/capacity"' in county
    assert 'action="/production/M1/plans"' in county
    assert "capacity-requests" not in county and "plan-requests" not in county
    permits = "/production/permits?mine=M1"
    assert 'action="/production/M1/permit-requests"' in browser(w, "mm")[0].get(permits).text
    county = browser(w, "reg")[0].get(permits).text
    assert 'action="/production/M1/permits"' in county and "permit-requests" not in county


def test_the_mine_applies_and_the_county_decides(w: World) -> None:
    operator, manager, engineer = browser(w, "op"), browser(w, "mm"), browser(w, "ce")
    assert send(operator, "/production/M1/capacity-requests", **RAISED).status_code == 303
    assert send(manager, "/production/M1/plan-requests", **PLAN).status_code == 303
    permit = {**PERMIT, "point": "B1"}
    assert send(manager, "/production/M1/permit-requests", **permit).status_code == 303
    pending = w.ok(w.get("/requests", status="pending"))["items"]
    ids = {r["kind"]: r["id"] for r in pending}
    assert [(r["kind"], r["decided_with"]) for r in pending] == [
        ("permit", "region:permit"),
        ("plan", "region:plan"),
        ("capacity", "region:capacity"),
    ]
    # pending: nothing changed; until a plan is approved the month's ratio divides by
    # M = 330000 / 330 × 30 = 30000 t
    assert capacity_t(w) == 330000 and w.ok(w.get("/mines/M1/permits"))["items"] == []
    figure = month_figure(w)
    assert figure["plan_t"] is None and figure["capacity_t"] == 30000
    # the mine's own staff never approve
    for kind, who in (("capacity", engineer), ("plan", manager), ("permit", manager)):
        permission = f"region:{kind}"
        answer = send(who, f"/production/M1/requests/{ids[kind]}/approve")
        assert answer.status_code == 403 and refusal(permission) in answer.text, kind
    api = w.post(f"/requests/{ids['plan']}/approve", None, w.token_for("X1", True))
    assert api.status_code == 403 and api.json()["error"]["message"] == refusal("region:plan")
    # the county decides: each is in force as its decision
    regulator = browser(w, "reg")
    for kind in ("capacity", "plan", "permit"):
        answer = send(regulator, f"/production/M1/requests/{ids[kind]}/approve")
        assert answer.status_code == 303, kind
    assert capacity_t(w) == 9900000
    assert month_figure(w)["plan_t"] == 20000
    (approved,) = w.ok(w.get("/mines/M1/permits"))["items"]
    assert (approved["point"], approved["approved_by"]) == ("B1", "reg")
    decided = w.ok(w.get("/requests", status="approved"))["items"]
    assert {r["decided_by"] for r in decided} == {"reg"} and len(decided) == 3
    page = regulator[0].get("/production/capacity", params={"mine": "M1"}).text
    assert "晋煤行审〔2026〕12号" in page


def test_the_editors_pages_refuse_with_the_reason(w: World) -> None:
    engine = make_engine(w.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "chief", PASSWORD, w.clock())
    finally:
        engine.dispose()
    admin = browser(w, "chief")
    user = send(
        admin,
        "/system/users/new",
        username="op3",
        name="值机员三",
        org="X1",
        roles="regulator",
        password="Secure-2026-x",
    )
    assert user.status_code == 422 and "region:capacity" in user.text and "宏达煤业" in user.text
    role = send(
        admin,
        "/system/roles",
        code="duty_operator",
        name="产量监控值机员",
        permissions=["monitor:view", "production:write", "region:plan"],
    )
    # op, of the company X1, holds the role: it cannot take a decision
    assert role.status_code == 409 and "region:plan" in role.text and "宏达煤业" in role.text
