"""The permission matrix: every route of the app, called by nobody, by every kind of API
token and by a signed-in user of every built-in role; on SQLite (the package's seeded
center), and a sample again on PostgreSQL.

``routes.ROUTES`` says what each (method, path) of ``app.routes`` needs; a route missing
from it fails ``test_every_route_is_in_the_matrix`` (see routes.py for how to add one).

For each caller the answer must be *refused* (401/403, or a page's redirect to the login)
exactly when the caller lacks what the route needs; *permitted* is any other answer below
500 (a 404 for an absent object or a 409 is fine). The API takes tokens only: a signed-in
administrator's session is refused there, even with its CSRF token (so the API needs no
CSRF protection); pages take the session only: the write token signs no page in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.routing import iter_route_contexts
from httpx import Response

from coalwatch.auth.permissions import BUILTIN_ROLES, VIEW_ALL
from coalwatch.auth.principal import Principal
from coalwatch.auth.service import THIRD_PARTY_PERMISSIONS
from coalwatch.domain.reports import SIGNING_ORDER
from tests.security.routes import API, ROUTES, Need, Rule, send
from tests.security.site import Site, site

# ---- who calls ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    label: str
    #: anonymous | token | user
    kind: str
    permissions: frozenset[str] = frozenset()
    role: str | None = None

    def has(self, permission: str) -> bool:
        return Principal(self.label, None, self.permissions).has(permission)


WHO: list[Who] = [
    Who("anonymous", "anonymous"),
    Who("read token", "token", VIEW_ALL),
    Who("write token", "token", frozenset({"*"})),
    Who("third-party token", "token", THIRD_PARTY_PERMISSIONS),
    *(
        Who(f"user {code}", "user", permissions, code)
        for code, (_, permissions) in BUILTIN_ROLES.items()
    ),
]
TOKEN_KIND = {"read token": "read", "write token": "write", "third-party token": "third_party"}
#: the API takes tokens: every kind is tried, and a signed-in administrator (holding
#: everything) shows a session is refused there; pages take sessions: every role is tried,
#: and the write token (everything) shows a token signs no page in
API_WHO = [w for w in WHO if w.kind != "user" or w.role == "admin"]
PAGE_WHO = [w for w in WHO if w.kind != "token" or w.label == "write token"]
SIGNERS = {s.value for s in SIGNING_ORDER}


def permitted(need: Need, who: Who, api: bool) -> bool | None:
    """Whether ``who`` may call; None: not decided by the caller (public)."""
    if need.kind == "public":
        return None
    if need.kind == "signed_in":
        return who.kind == "user"
    if need.kind == "token":
        return who.kind == "token"
    if need.kind == "token_or_session":
        return who.kind in ("token", "user")
    if need.kind in ("station", "center"):
        return False
    if who.kind != ("token" if api else "user"):
        return False
    if not all(who.has(p) for p in need.all_of):
        return False
    if need.any_of and not any(who.has(p) for p in need.any_of):
        return False
    if need.signer and who.kind == "user":
        return who.role in SIGNERS
    if need.signer:
        return who.has("*")
    return True


#: a 403 that refuses by the state, not by the permission: the daily report is signed in
#: order (值机员 → 值班矿长 → 总工程师), whoever holds report:sign
BY_STATE = ("out_of_order", "签字顺序错误")


def refused(answer: Response, rule: Rule) -> bool:
    if answer.status_code == 403 and any(text in answer.text for text in BY_STATE):
        return False
    if answer.status_code in (401, 403):
        return True
    if rule.fresh:
        return False
    location = answer.headers.get("location", "")
    return answer.status_code in (302, 303, 307) and location.startswith("/login")


# ---- the app's routes ---------------------------------------------------------------------


def app_routes(s: Site) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(s.app.routes):
        path = route.path
        if path is None:
            continue
        methods = route.methods
        if not methods:
            found.add(("MOUNT", path))
            continue
        found.update((method, path) for method in methods)
    return found


def test_every_route_is_in_the_matrix(s: Site) -> None:
    routes = app_routes(s)
    missing = sorted(routes - ROUTES.keys())
    stale = sorted(ROUTES.keys() - routes)
    assert not missing, f"routes without an entry in ROUTES (add what they need): {missing}"
    assert not stale, f"entries of ROUTES the app does not have: {stale}"


def call(s: Site, method: str, template: str, rule: Rule, who: Who) -> Response:
    signer = who.role if who.role in SIGNERS else "duty_operator"
    if who.kind == "user":
        assert who.role is not None
        client, csrf = s.session_of(who.role, fresh=rule.fresh)
        return send(s, client, method, template, rule, csrf=csrf, signer=signer)
    token = s.tokens[TOKEN_KIND[who.label]] if who.kind == "token" else None
    return send(s, s.new_client(), method, template, rule, token=token, signer=signer)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_principal_is_refused_exactly_without_the_permission(
    s: Site, route: tuple[str, str]
) -> None:
    method, template = route
    rule = ROUTES[route]
    api = template.startswith(API)
    wrong = []
    for who in API_WHO if api else PAGE_WHO:
        answer = call(s, method, template, rule, who)
        expected = permitted(rule.need, who, api)
        if answer.status_code >= 500:
            wrong.append(f"{who.label}: {answer.status_code} {answer.text[:200]}")
        elif expected is True and refused(answer, rule):
            wrong.append(
                f"{who.label}: refused ({answer.status_code}) but may: {answer.text[:200]}"
            )
        elif expected is False and not refused(answer, rule):
            wrong.append(
                f"{who.label}: answered {answer.status_code} but may not: {answer.text[:200]}"
            )
    assert not wrong, "\n".join(wrong)


#: a sample of the matrix, again on PostgreSQL (reads, writes, pages, scope)
SMOKE = [
    ("GET", "/api/v1/mines"),
    ("PUT", "/api/v1/mines/{mine}/capacity"),
    ("POST", "/api/v1/alarms/{alarm_id}/handle"),
    ("GET", "/api/v1/fee-items"),
    ("POST", "/api/v1/stations/{station}/batches"),
    ("GET", "/monitor"),
    ("POST", "/production/{mine}/capacity"),
    ("POST", "/system/users/{user_id}"),
    ("POST", "/reports/daily/sign"),
]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_sample_of_the_matrix_on_postgresql(database_url: str) -> None:
    with site(database_url) as pg:
        for method, template in SMOKE:
            rule = ROUTES[(method, template)]
            for who in API_WHO if template.startswith(API) else PAGE_WHO:
                answer = call(pg, method, template, rule, who)
                expected = permitted(rule.need, who, template.startswith(API))
                assert answer.status_code < 500, (template, who.label, answer.text[:200])
                if expected is not None:
                    assert refused(answer, rule) is not expected, (template, who.label)
        token = pg.tokens["write_C1"]
        answer = pg.client.get(
            "/api/v1/mines/M2/summary", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 404
