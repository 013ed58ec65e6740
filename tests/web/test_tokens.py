"""接口令牌: the API tokens page. A token's secret is shown once, in the answer to the form
that made it; nobody gives a token more than they hold, nor outside the part of the tree
they see. Server side (no browser), on SQLite: what is refused does not depend on the
database (the token's rules are the service's, the same on both).

Counties C1 and C2 each hold a mine; the world's clock stands at 2026-03-15 12:00 in
Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.auth.models import ApiToken
from coalwatch.auth.permissions import VIEW_ALL
from coalwatch.auth.principal import OPERATOR, Principal
from coalwatch.auth.service import authenticate, create_admin, create_token
from coalwatch.errors import Unauthorized
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import RoleIn
from coalwatch.web.app import SESSION_COOKIE
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, world
from tests.web.test_accounts import login

pytestmark = SQLITE_ONLY

ADMIN_PASSWORD = "Admin-2026-pass"
PASSWORD = "Coalwatch2026"
SECRET = re.compile(r'id="token-secret">(cw_[A-Za-z0-9_\-]+)<')


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.mine("M1", org="C1", station="S1")
        w.mine("M2", org="C2", station="S2")
        engine = make_engine(database_url)
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "admin", ADMIN_PASSWORD, w.clock())
            # a county's system administrator: every menu's view and the system's write,
            # not every permission
            users.create_role(
                session,
                OPERATOR,
                RoleIn(
                    code="county_admin",
                    name="县级系统管理员",
                    permissions=sorted(VIEW_ALL | {"system:write"}),
                ),
                w.clock(),
            )
        engine.dispose()
        w.users([("c1admin", "C1", ["county_admin"])], PASSWORD, ready=True)
        yield w


def _form(client: TestClient) -> dict[str, str]:
    """The hidden fields of the page's form: the CSRF token and the form's number."""
    text = client.get("/system/tokens").text
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', text))


def _csrf(client: TestClient) -> str:
    return _form(client)["csrf_token"]


def _create(client: TestClient, **form: str) -> Response:
    fields = {"name": "", "scope": "", "access": "read", "rate_limit": ""} | form
    return client.post("/system/tokens", data={**_form(client), **fields})


def _principal(w: World, secret: str) -> Principal:
    engine = make_engine(w.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return authenticate(session, f"Bearer {secret}")
    finally:
        engine.dispose()


def _audit(w: World, action: str) -> list[AuditEntry]:
    """The entries of ``action`` by the users (not those of the world's own set-up)."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        rows = list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == action, AuditEntry.actor.not_like("operator%")
                )
            )
        )
        session.expunge_all()
    engine.dispose()
    return rows


def _session_cookie(client: TestClient) -> str:
    """The session cookie's readable content (signed, not encrypted: whatever is put in
    the session can be read by whoever holds the cookie)."""
    [value] = [c.value for c in client.cookies.jar if c.name == SESSION_COOKIE]
    payload = value.split(".")[0]
    return base64.b64decode(payload + "=" * (-len(payload) % 4)).decode()


def test_the_secret_is_shown_once_in_the_answer_and_nowhere_else(w: World) -> None:
    login(w.client, "admin", ADMIN_PASSWORD)
    answer = _create(w.client, name="税务局产量核对", scope="C1", access="third_party")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found = SECRET.search(answer.text)
    assert found, answer.text
    secret = found.group(1)
    # it works, for what a third party reads, inside county C1
    principal = _principal(w, secret)
    assert principal.scope_path is not None
    assert principal.has("query:view") and not principal.has("system:view")
    assert (
        w.client.get(
            "/api/v1/mines/M1/summary", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )
    assert (
        w.client.get(
            "/api/v1/mines/M2/summary", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 404
    )
    # never in the session cookie, never on the page again
    assert secret not in _session_cookie(w.client)
    listed = w.client.get("/system/tokens")
    assert secret not in listed.text and "token-secret" not in listed.text
    table = listed.text.split('id="tokens"')[1]
    row = next(r for r in table.split("<tr>") if "税务局产量核对" in r)
    assert "第三方只读" in row and "60" in row and "C1" in row and "有效" in row
    [entry] = _audit(w, "token.create")
    assert (entry.actor, entry.entity_key) == ("admin", "税务局产量核对")
    assert secret not in json.dumps(entry.detail) and secret[3:] not in json.dumps(entry.detail)


def test_a_refused_token_keeps_what_was_typed_and_says_why(w: World) -> None:
    login(w.client, "admin", ADMIN_PASSWORD)
    answer = _create(w.client, name="调度脚本", scope="C2", access="read", rate_limit="abc")
    assert answer.status_code == 422
    assert "限流须为每分钟的请求次数" in answer.text
    assert 'value="调度脚本"' in answer.text and 'value="abc"' in answer.text
    assert re.search(r'<option value="C2" selected>', answer.text)
    assert "token-secret" not in answer.text
    too_many = _create(w.client, name="调度脚本", access="read", rate_limit="100001")
    assert too_many.status_code == 422 and "限流为每分钟 1 至" in too_many.text
    nameless = _create(w.client, name="  ", access="write")
    assert nameless.status_code == 422 and "令牌须有名称" in nameless.text
    unknown = _create(w.client, name="x", access="admin")
    assert unknown.status_code == 422 and "权限须为只读、读写或第三方只读" in unknown.text
    assert _audit(w, "token.create") == []


def test_nobody_gives_a_token_more_than_they_hold_nor_outside_their_unit(w: World) -> None:
    login(w.client, "c1admin", PASSWORD)
    form = w.client.get("/system/tokens").text
    # the form offers what the county's administrator may give: not a write token (every
    # permission), not the whole tree
    assert '<option value="read"' in form and '<option value="third_party"' in form
    assert '<option value="write"' not in form
    assert '<option value="">' not in form.split('id="t-scope"')[1].split("</select>")[0]
    # and the server refuses what the form does not offer
    write = _create(w.client, name="全权", scope="C1", access="write")
    assert write.status_code == 403 and "不能授予自己没有的权限（*）" in write.text
    whole = _create(w.client, name="全省", scope="", access="read")
    assert whole.status_code == 403 and "只能创建本单位及下级单位的令牌" in whole.text
    other = _create(w.client, name="邻县", scope="C2", access="read")
    assert other.status_code == 422 and "没有编码为 C2 的单位" in other.text
    assert _audit(w, "token.create") == []
    made = _create(w.client, name="县调度", scope="C1", access="read")
    assert made.status_code == 200
    secret = SECRET.search(made.text).group(1)  # type: ignore[union-attr]
    assert _principal(w, secret).has("query:view")


def test_a_county_sees_and_revokes_only_its_own_tokens(w: World) -> None:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        province = create_token(session, "省平台", None, True, w.clock())
        neighbour = create_token(session, "邻县报表", "C2", False, w.clock())
        own = create_token(session, "本县报表", "C1", False, w.clock())
    engine.dispose()
    login(w.client, "c1admin", PASSWORD)
    listed = w.client.get("/system/tokens").text
    assert "本县报表" in listed and "省平台" not in listed and "邻县报表" not in listed
    # a token outside the county is not found, and stays valid
    for name, secret in (("省平台", province), ("邻县报表", neighbour)):
        refused = w.client.post(
            f"/system/tokens/{_token_id(w, name)}/revoke",
            data={"csrf_token": _csrf(w.client)},
            follow_redirects=True,
        )
        assert "没有名称或编号为" in refused.text
        _principal(w, secret)
    # its own: revoked, refused from then on, audited
    done = w.client.post(
        f"/system/tokens/{_token_id(w, '本县报表')}/revoke",
        data={"csrf_token": _csrf(w.client)},
        follow_redirects=True,
    )
    assert "令牌已吊销" in done.text and "已吊销" in done.text
    with pytest.raises(Unauthorized):
        _principal(w, own)
    assert [e.actor for e in _audit(w, "token.revoke")] == ["c1admin"]
    again = w.client.post(
        f"/system/tokens/{_token_id(w, '本县报表')}/revoke",
        data={"csrf_token": _csrf(w.client)},
        follow_redirects=True,
    )
    assert "早已吊销" in again.text


def _token_id(w: World, name: str) -> int:
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.name == name)).one()
    engine.dispose()
    return token_id


def test_a_user_who_may_only_view_sees_the_tokens_but_no_form(w: World) -> None:
    w.users([("viewer", None, ["regulator"])], PASSWORD, ready=True)
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        create_token(session, "省平台", None, True, w.clock())
    engine.dispose()
    login(w.client, "viewer", PASSWORD)
    page = w.client.get("/system/tokens")
    assert page.status_code == 200
    assert "省平台" in page.text and 'id="token-form"' not in page.text
    assert "吊销" not in page.text.split('id="tokens"')[1]


def test_the_answer_reloaded_makes_no_second_token(w: World) -> None:
    login(w.client, "admin", ADMIN_PASSWORD)
    form = {
        **_form(w.client),
        "name": "调度脚本",
        "scope": "C1",
        "access": "read",
        "rate_limit": "",
    }
    first = w.client.post("/system/tokens", data=form)
    assert first.status_code == 200 and SECRET.search(first.text)
    # a reload of the answer sends the same form again: no second token, and why
    again = w.client.post("/system/tokens", data=form, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/system/tokens"
    shown = w.client.get("/system/tokens").text
    assert "这份表单已经提交过" in shown and "token-secret" not in shown
    assert len(_audit(w, "token.create")) == 1
    # a refused form comes back with a new number: corrected, it is sent once more
    refused = w.client.post("/system/tokens", data={**_form(w.client), "name": " "})
    number = re.search(r'name="form_number" value="([^"]+)"', refused.text)
    assert refused.status_code == 422 and number
    corrected = {**form, "csrf_token": _csrf(w.client), "form_number": number.group(1)}
    assert w.client.post("/system/tokens", data=corrected).status_code == 200
    assert len(_audit(w, "token.create")) == 2
