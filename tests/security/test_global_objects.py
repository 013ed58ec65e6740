"""Role names are text, global objects belong to unscoped principals, codes cannot be probed
and the sign-in failure does not tell which user names exist. On SQLite and PostgreSQL.

The seeded center (``tests.security.site``): county C1 holds mine M1 (station S1), county C2
mine M2 (station S2); ``admin`` is unscoped, ``admin@C1`` has every permission in C1;
``write_C1`` is a write token scoped to C1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import Response

from coalwatch.auth.principal import OPERATOR
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import repository as user_repository
from coalwatch.users import service as users
from coalwatch.users.schemas import RoleIn, UserIn
from tests.security.site import NOW, PASSWORD, SEEDED_FEE, Site, sign_in, site

#: the role name the county user stored: htmx ran it as the global administrator
HOSTILE_ROLE = (
    "<i hx-post=/system/users/5 hx-trigger=load "
    """hx-vals='{"name":"pwned","roles":"admin","active":"on"}'></i>"""
)


@pytest.fixture
def s(database_url: str) -> Iterator[Site]:
    with site(database_url) as s:
        yield s


def _bearer(s: Site, kind: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {s.tokens[kind]}"}


def _roles(s: Site) -> dict[str, Any]:
    engine = make_engine(s.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return {r.code: (r.name, r.permissions) for r in users.list_roles(session, OPERATOR)}
    finally:
        engine.dispose()


# -- 1: a role name is shown as text ---------------------------------------------------------


def test_a_role_name_with_markup_is_shown_as_text_on_every_users_page(s: Site) -> None:
    engine = make_engine(s.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            users.create_role(session, OPERATOR, RoleIn(code="hostile", name=HOSTILE_ROLE), NOW)
            users.create_user(
                session,
                OPERATOR,
                UserIn(
                    username="holder", name="holder", org="C1", roles=["hostile"], password=PASSWORD
                ),
                NOW,
            )
    finally:
        engine.dispose()
    for language in ("zh_CN", "en"):
        client, csrf = s.session_of("admin", fresh=True)
        client.post("/lang", data={"lang": language, "csrf_token": csrf})
        for path in (
            "/system/roles",
            "/system/roles?role=hostile",
            "/system/users",
            "/system/users/new",
        ):
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:300])
            assert "<i hx-post" not in page.text, (path, language)
            assert "&lt;i hx-post=/system/users/5" in page.text, (path, language)


# -- 2: roles are global: only an unscoped principal changes them ------------------------------


def test_a_county_administrator_cannot_create_change_or_delete_a_role(s: Site) -> None:
    before = _roles(s)
    client, csrf = s.session_of("admin@C1")
    answers = [
        client.post(
            "/system/roles",
            data={"code": "duty_operator", "name": "x", "permissions": "*", "csrf_token": csrf},
            follow_redirects=False,
        ),
        client.post(
            "/system/roles",
            data={"new": "1", "code": "mine", "name": "mine", "csrf_token": csrf},
            follow_redirects=False,
        ),
        client.post("/system/roles/regulator/delete", data={"csrf_token": csrf}),
    ]
    for answer in answers:
        assert answer.status_code == 403, answer.text[:300]
        assert "unscoped" in answer.text, answer.text[:300]
    assert _roles(s) == before
    # the page offers no editing to a scoped administrator
    assert "新建角色" not in client.get("/system/roles").text


def test_the_global_administrator_still_edits_roles(s: Site) -> None:
    client, csrf = s.session_of("admin")
    answer = client.post(
        "/system/roles",
        data={"new": "1", "code": "viewer", "name": "查看员", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:300]
    assert _roles(s)["viewer"][0] == "查看员"


# -- 5: fee items and rates are global ---------------------------------------------------------


def test_a_scoped_write_token_cannot_create_or_price_fee_items(s: Site) -> None:
    created = s.client.post(
        "/api/v1/fee-items", json={"code": "ZY", "name": "资源税"}, headers=_bearer(s, "write")
    )
    assert created.status_code == 201, created.text
    scoped = _bearer(s, "write_C1")
    answers = [
        s.client.post("/api/v1/fee-items", json={"code": "X", "name": "x"}, headers=scoped),
        s.client.post(
            "/api/v1/fee-items/ZY/rates",
            json={"yuan_per_t": "99", "effective_from": "2026-03-01"},
            headers=scoped,
        ),
    ]
    for answer in answers:
        assert answer.status_code == 403, answer.text
        assert "unscoped" in answer.json()["error"]["message"], answer.text
    items = s.client.get("/api/v1/fee-items", headers=_bearer(s, "read")).json()
    listed = items["items"] if isinstance(items, dict) else items
    # the site's own item aside, only ZY, unpriced
    assert {i["code"]: i["rates"] for i in listed} == {"ZY": [], SEEDED_FEE: []}


# -- 9: codes outside the scope cannot be probed ---------------------------------------------


def _create(s: Site, kind: str, code: str) -> Response:
    scoped = _bearer(s, "write_C1")
    if kind == "org":
        body = {"code": code, "name": "x", "kind": "company", "parent": "C1"}
        return s.client.post("/api/v1/orgs", json=body, headers=scoped)
    if kind == "mine":
        body = {"code": code, "name": "x", "org": "C1", "annual_capacity_t": "1000"}
        return s.client.post("/api/v1/mines", json=body, headers=scoped)
    key = "MCowBQYDK2VwAyEA" + "A" * 43 + "="
    body = {"code": code, "public_key": key}
    return s.client.post("/api/v1/mines/M1/stations", json=body, headers=scoped)


@pytest.mark.parametrize(
    ("kind", "inside", "outside"),
    [("org", "C1", "C2"), ("mine", "M1", "M2"), ("station", "S1", "S2")],
)
def test_a_code_taken_outside_the_scope_answers_as_one_taken_inside(
    s: Site, kind: str, inside: str, outside: str
) -> None:
    if kind == "station":
        from coalwatch.wire.signing import generate_private_key, public_key_b64

        key = public_key_b64(generate_private_key())
        scoped = _bearer(s, "write_C1")
        out = s.client.post(
            "/api/v1/mines/M1/stations", json={"code": outside, "public_key": key}, headers=scoped
        )
        taken = s.client.post(
            "/api/v1/mines/M1/stations", json={"code": inside, "public_key": key}, headers=scoped
        )
    else:
        out, taken = _create(s, kind, outside), _create(s, kind, inside)
    assert out.status_code == taken.status_code == 409, (out.text, taken.text)
    said = (out.json()["error"], taken.json()["error"])
    assert said[0]["code"] == said[1]["code"]
    assert said[0]["message"].replace(outside, "<code>") == said[1]["message"].replace(
        inside, "<code>"
    )
    assert said[0]["code"] == "conflict", out.text
    assert "exist" not in out.text, out.text


def test_a_username_taken_outside_the_scope_answers_as_one_taken_inside(s: Site) -> None:
    client, csrf = s.session_of("admin@C1")

    def refusal(username: str) -> str:
        form = {
            "username": username,
            "name": "x",
            "org": "C1",
            "password": PASSWORD + "x",
            "csrf_token": csrf,
        }
        answer = client.post("/system/users/new", data=form)
        assert answer.status_code == 422, answer.text[:300]
        said = re.search(r'role="alert">([^<]*)<', answer.text)
        assert said, answer.text[:500]
        return said.group(1).replace(username, "<name>")

    # "admin" is unscoped (outside C1); "duty_operator@C1" is in C1
    outside = refusal("admin")
    assert outside == refusal("duty_operator@C1")
    assert "exist" not in outside and "存在" not in outside, outside


# -- 12: the sign-in failure does not tell which user names exist -----------------------------


def _failure(s: Site, username: str, password: str) -> tuple[int, str]:
    """The status and what the page says (the rest differs by the session's CSRF token)."""
    answer = sign_in(s.new_client(), username, password)
    said = re.search(r'id="login-error">([^<]*)<', answer.text)
    return answer.status_code, said.group(1) if said else answer.text[:300]


def test_unknown_users_wrong_passwords_and_locked_accounts_answer_alike(s: Site) -> None:
    unknown = _failure(s, "nobody-here", "Wrong-password-1")
    wrong = _failure(s, "victim", "Wrong-password-1")
    assert unknown == wrong
    assert unknown[0] == 401
    for _ in range(5):  # the default policy locks after 5 failures
        assert _failure(s, "victim", "Wrong-password-1") == unknown
    # locked: the right password is refused, with the same answer as an unknown user
    assert _failure(s, "victim", PASSWORD) == unknown
    engine = make_engine(s.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            victim = user_repository.user_by_username(session, "victim")
            assert victim is not None and victim.locked_until is not None
    finally:
        engine.dispose()
