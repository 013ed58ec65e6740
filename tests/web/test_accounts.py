"""Sign-in, sessions and permissions, server side (no browser). The built-in roles and the
subtree a user sees on SQLite and PostgreSQL; the rest on SQLite (sessions and lock-out are
tested on both databases in tests/security/test_accounts.py).

The world's clock stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_admin
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.models import Role, User
from coalwatch.users.schemas import UserIn
from tests.conftest import SQLITE_ONLY
from tests.security.permissions import AUTHORITY, PERMISSIONS, ROLES
from tests.support.world import World, world

PASSWORD = "Coalwatch2026"


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.mine("M1", org="C1", station="S1")
        w.mine("M2", org="C2", station="S2")
        engine = make_engine(database_url)
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "admin", "Admin-2026-pass", w.clock())
            for username, unit, roles in [
                ("op1", "C1", ["duty_operator"]),
                ("reader", "C1", ["third_party"]),
                ("reg", None, ["regulator"]),
            ]:
                users.create_user(
                    session,
                    OPERATOR,
                    UserIn(
                        username=username, name=username, org=unit, roles=roles, password=PASSWORD
                    ),
                    w.clock(),
                )
        engine.dispose()
        yield w


def _csrf(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": _csrf(client)},
        follow_redirects=False,
    )


def _audit(w: World) -> list[tuple[str, str]]:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        rows = [
            (e.actor, e.action) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    engine.dispose()
    return rows


def _user(w: World, username: str) -> User:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        session.expunge(user)
    engine.dispose()
    return user


def test_the_migration_creates_the_builtin_roles(w: World) -> None:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        roles = {
            r.code: (r.name, frozenset(r.permissions.split()))
            for r in session.scalars(select(Role))
        }
    engine.dispose()
    # the hand-written table (but for the cells in AUTHORITY, where the program is known
    # to differ: the matrix holds them as expected failures), after every migration
    assert {code: name for code, (name, _) in roles.items()} == {
        code: name for code, (name, _) in ROLES.items()
    }
    for code, (_, permissions) in ROLES.items():
        settled = {p for p in (*PERMISSIONS, "*") if (code, p) not in AUTHORITY}
        assert roles[code][1] & settled == permissions & settled, code


@SQLITE_ONLY
def test_pages_need_a_session_and_the_login_page_says_so(w: World) -> None:
    answer = w.client.get("/monitor", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/monitor"
    assert "帐号" in w.client.get("/login").text


@SQLITE_ONLY
def test_a_new_user_must_change_the_initial_password(w: World) -> None:
    answer = login(w.client, "op1")
    assert answer.headers["location"] == "/password"
    # a page goes to the form, and from there on to the page that was asked for
    wanted = w.client.get("/monitor", follow_redirects=False).headers["location"]
    assert wanted == "/password?next=/monitor"
    # a fragment (the bell) answers in its page's flash area: a redirect of the whole page
    # made the password page, which loads the bell, reload itself without end
    bell = w.client.get("/alarms/bell", headers={"HX-Request": "true"}, follow_redirects=False)
    assert bell.status_code == 403 and "HX-Redirect" not in bell.headers
    assert bell.headers["HX-Retarget"] == "#flash"
    # the password page loads no bell, opens no event stream and shows no menu
    form = w.client.get(wanted).text
    assert 'id="bell"' not in form and "data-live" not in form and "menu-group" not in form
    assert 'name="next" value="/monitor"' in form
    assert w.client.get("/api/v1/events?limit=1").status_code == 403
    token = _csrf(w.client, "/password")
    weak = w.client.post(
        "/password", data={"old": PASSWORD, "new": "short", "again": "short", "csrf_token": token}
    )
    assert weak.status_code == 422 and "至少 10 位" in weak.text
    changed = w.client.post(
        "/password",
        data={
            "old": PASSWORD,
            "new": "Another-2026",
            "again": "Another-2026",
            "csrf_token": token,
            "next": "/monitor",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/monitor"
    assert w.client.get("/monitor").status_code == 200
    assert ("op1", "password.change") in _audit(w)


@SQLITE_ONLY
def test_five_failures_lock_the_account_for_fifteen_minutes(w: World) -> None:
    for _ in range(5):
        assert login(w.client, "admin", "wrong-password").status_code == 401
    locked = login(w.client, "admin", "Admin-2026-pass")
    assert locked.status_code == 401 and "用户名或密码错误，或账户已被暂时锁定" in locked.text
    w.clock.advance(minutes=16)
    assert login(w.client, "admin", "Admin-2026-pass").status_code == 303
    actions = _audit(w)
    assert actions.count(("admin", "login.failed")) == 6
    assert ("admin", "user.locked") in actions
    assert actions[-1] == ("admin", "login")


@SQLITE_ONLY
def test_an_unknown_account_fails_like_a_wrong_password_and_is_audited(w: World) -> None:
    answer = login(w.client, "nobody", "whatever-123")
    assert answer.status_code == 401 and "用户名或密码错误" in answer.text
    assert ("nobody", "login.failed") in _audit(w)


@SQLITE_ONLY
def test_a_password_expires_after_ninety_days(w: World) -> None:
    w.clock.advance(days=89)
    assert login(w.client, "admin", "Admin-2026-pass").headers["location"] == "/"
    w.clock.advance(days=1)
    w.client.cookies.clear()
    assert login(w.client, "admin", "Admin-2026-pass").headers["location"] == "/password"


@SQLITE_ONLY
def test_every_form_needs_the_csrf_token(w: World) -> None:
    login(w.client, "admin", "Admin-2026-pass")
    alarm_free = w.client.post("/logout", follow_redirects=False)
    assert alarm_free.status_code == 403 and "CSRF" in alarm_free.text
    forged = w.client.post("/login", data={"username": "admin", "password": "x"})
    assert forged.status_code == 403


@SQLITE_ONLY
def test_changing_the_password_ends_the_other_sessions(w: World) -> None:
    other = TestClient(w.client.app)
    login(w.client, "admin", "Admin-2026-pass")
    login(other, "admin", "Admin-2026-pass")
    assert other.get("/monitor").status_code == 200
    token = _csrf(w.client, "/password")
    w.client.post(
        "/password",
        data={
            "old": "Admin-2026-pass",
            "new": "Center-2027-pass",
            "again": "Center-2027-pass",
            "csrf_token": token,
        },
    )
    assert w.client.get("/monitor").status_code == 200
    assert other.get("/monitor", follow_redirects=False).status_code == 303


def _signed_in(w: World, username: str) -> TestClient:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        session.scalars(
            select(User).where(User.username == username)
        ).one().must_change_password = False
    engine.dispose()
    client = TestClient(w.client.app)
    assert login(client, username).status_code == 303
    return client


@SQLITE_ONLY
def test_writes_without_the_permission_are_refused_with_403(w: World) -> None:
    w.upload(
        "S1", [{"seq": 1, "ts": w.clock(), "type": "event", "point": "B1", "event": "power_off"}]
    )
    alarm = w.alarms(type="power_off")[0]
    regulator = _signed_in(w, "reg")
    token = _csrf(regulator, "/alarms")
    refused = regulator.post(f"/alarms/{alarm['id']}/ack", headers={"X-CSRF-Token": token})
    assert refused.status_code == 403
    assert "alarm:write" in refused.text
    refused = regulator.post(
        "/system/users/new",
        data={"csrf_token": token, "username": "x1", "name": "x", "password": "Abcdefgh123"},
    )
    assert refused.status_code == 403
    operator = _signed_in(w, "op1")
    token = _csrf(operator, "/alarms")
    done = operator.post(
        f"/alarms/{alarm['id']}/ack", headers={"X-CSRF-Token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    assert w.alarms(type="power_off")[0]["acknowledged_by"] == "op1"


def test_a_user_sees_the_subtree_of_their_unit_only(w: World) -> None:
    operator = _signed_in(w, "op1")  # unit C1: mine M1
    assert operator.get("/monitor?mine=M1").status_code == 200
    assert operator.get("/monitor?mine=M2").status_code == 404
    assert operator.get("/query/production?mine=M2").status_code == 404
    assert operator.get("/query/realtime?mine=M2").status_code == 404
    region = operator.get("/monitor/region").text
    assert "M1 矿" in region and "M2 矿" not in region


@SQLITE_ONLY
def test_menus_without_view_are_hidden_and_refused(w: World) -> None:
    reader = _signed_in(w, "reader")
    page = reader.get("/monitor").text
    assert "数据查询" in page and "报警处理" not in page and "系统设置" not in page
    assert reader.get("/alarms").status_code == 403
    assert reader.get("/system/roles").status_code == 403


@SQLITE_ONLY
def test_the_event_stream_takes_the_session_cookie(w: World) -> None:
    assert w.client.get("/api/v1/events?limit=1").status_code == 401
    login(w.client, "admin", "Admin-2026-pass")
    with w.client.stream("GET", "/api/v1/events", params={"limit": 1}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")


@SQLITE_ONLY
def test_an_administrator_manages_users_and_roles(w: World) -> None:
    login(w.client, "admin", "Admin-2026-pass")
    token = _csrf(w.client, "/system/users/new")
    created = w.client.post(
        "/system/users/new",
        data={
            "csrf_token": token,
            "username": "dispatch1",
            "number": "0301",
            "name": "调度员甲",
            "org": "C1",
            "roles": "dispatcher",
            "password": "Dispatch-2026",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    listing = w.client.get("/system/users?q=dispatch").text
    assert "调度员甲" in listing and "0301" in listing
    saved = w.client.post(
        "/system/roles",
        data={
            "csrf_token": token,
            "code": "dispatcher",
            "name": "调度员",
            "permissions": ["monitor:view", "alarm:view"],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        role = session.scalars(select(Role).where(Role.code == "dispatcher")).one()
        assert role.permissions == "alarm:view monitor:view"
        user_id = session.scalars(select(User.id).where(User.username == "dispatch1")).one()
    engine.dispose()
    deleted = w.client.post(
        "/system/users-delete",
        data={"csrf_token": token, "ids": str(user_id)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    actions = [a for _, a in _audit(w)]
    assert {"user.create", "role.update", "user.delete"} <= set(actions)


@SQLITE_ONLY
def test_nobody_grants_more_than_they_hold(w: World) -> None:
    engine = make_engine(w.url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        op = users.signed_in(
            session, _user(w, "op1").id, users.stamp(_user(w, "op1")), w.clock(), users.Policy()
        )
        assert op is not None
        principal = op[0]
    from coalwatch.errors import Forbidden

    with transaction(sessions) as session, pytest.raises(Forbidden):
        users.create_user(
            session,
            principal.__class__(
                name="op1",
                scope_path=principal.scope_path,
                permissions=principal.permissions | {"system:write"},
                kind="user",
            ),
            UserIn(username="x2", name="x", org="C1", roles=["admin"], password="Abcdefgh123"),
            w.clock() + timedelta(seconds=1),
        )
    engine.dispose()
