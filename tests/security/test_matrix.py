"""The permission matrix: every route of the app, called by nobody, by every kind of API
token and by a signed-in user of every built-in role; on SQLite (the package's seeded
center), and a sample again on PostgreSQL.

What each caller holds is the hand-written table of ``tests.security.permissions``;
``routes.ROUTES`` says what each (method, path) of ``app.routes`` needs under the rules (a
route missing from it fails ``test_every_route_is_in_the_matrix``). Each (route, caller)
cell expects one exact answer: a caller without what the route needs is refused (401 on
the API without a token, 403 with one lacking the permission; on pages 403, or for a GET
without a session the redirect to the login), a permitted caller gets the route's usual
answer (``permitted_answer``). The API takes tokens only: a signed-in administrator's
session is refused there; pages take the session only: the write token signs no page in.

Cells where the program differs from the rules (``permissions.AUTHORITY``, a rule's
``program``) are marked xfail(strict): they flip when the authority rework lands.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from httpx import Response

from coalwatch.auth.permissions import BUILTIN_ROLES
from coalwatch.auth.service import THIRD_PARTY_PERMISSIONS
from tests.security.permissions import (
    AUTHORITY,
    PERMISSIONS,
    ROLES,
    TOKENS,
    holds,
    role_cells,
)
from tests.security.routes import (
    API,
    PARAMS,
    ROUTES,
    SIGNED_DAY,
    SIGNED_MONTH,
    Need,
    Rule,
    send,
)
from tests.security.site import Site, site

# ---- the table against the program's roles -----------------------------------------------


def test_the_permission_strings_are_ui_mds() -> None:
    from coalwatch.auth.permissions import PERMISSIONS as PROGRAM

    assert set(PROGRAM) == set(PERMISSIONS)


def test_the_builtin_roles_are_the_tables() -> None:
    assert {code: name for code, (name, _) in BUILTIN_ROLES.items()} == {
        code: name for code, (name, _) in ROLES.items()
    }


@pytest.mark.parametrize(("role", "permission"), role_cells())
def test_a_roles_permission_is_as_the_rules_say(role: str, permission: str) -> None:
    program = BUILTIN_ROLES[role][1]
    assert holds(program, permission) == holds(ROLES[role][1], permission)


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_the_third_party_token_reads_what_the_rules_say(permission: str) -> None:
    assert (permission in THIRD_PARTY_PERMISSIONS) == holds(TOKENS["third_party"], permission)


# ---- who calls ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    label: str
    #: anonymous | token | user
    kind: str
    permissions: frozenset[str] = frozenset()
    role: str | None = None

    def has(self, permission: str) -> bool:
        return holds(self.permissions, permission)

    def as_the_program_has_it(self) -> Who:
        """The caller with what the program gives the role beyond the rules (AUTHORITY)."""
        extra = {p for (role, p) in AUTHORITY if role == self.role}
        return Who(self.label, self.kind, self.permissions | extra, self.role)


WHO: list[Who] = [
    Who("anonymous", "anonymous"),
    Who("read token", "token", TOKENS["read"]),
    Who("write token", "token", TOKENS["write"]),
    Who("third-party token", "token", TOKENS["third_party"]),
    *(Who(f"user {code}", "user", permissions, code) for code, (_, permissions) in ROLES.items()),
]
TOKEN_KIND = {"read token": "read", "write token": "write", "third-party token": "third_party"}
#: the API takes tokens: every kind is tried, and a signed-in administrator (holding
#: everything) shows a session is refused there; pages take sessions: every role is tried,
#: and the write token (everything) shows a token signs no page in
API_WHO = [w for w in WHO if w.kind != "user" or w.role == "admin"]
PAGE_WHO = [w for w in WHO if w.kind != "token" or w.label == "write token"]
#: the daily report's signatures, in order (值机员 → 值班矿长 → 总工程师)
SIGNERS = ("duty_operator", "duty_mine_manager", "chief_engineer")


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


#: public routes: (the answer with a session, the answer without one); the matrix posts
#: a wrong password to /login, and without a session there is no CSRF token to send
PUBLIC_ANSWERS = {
    ("GET", "/"): (303, 303),
    ("GET", "/login"): (303, 200),
    ("POST", "/login"): (401, 403),
    ("POST", "/lang"): (303, 403),
}
#: the ids the matrix sends that name no object
MISSING = {name for name, value in PARAMS.items() if value == "999999"}


def permitted_answer(method: str, template: str, rule: Rule) -> int:
    """The status of a permitted call: 200 for a read, 201 for an API POST that creates,
    200 for an API PUT, a page's 303 back to its list; 404 for an object that does not
    exist (the API and the pages' reads; a page's write flashes it after the 303)."""
    if rule.ok is not None:
        return rule.ok
    api = template.startswith(API)
    read = method in ("GET", "HEAD", "MOUNT")
    missing = rule.path is None and any(f"{{{name}}}" in template for name in MISSING)
    if missing and (api or read):
        return 404
    if read:
        return 200
    if not api:
        return 303
    return 201 if method == "POST" else 200


def refusal(method: str, rule: Rule, who: Who, api: bool) -> int:
    if rule.need.kind in ("station", "center") or (api and who.kind != "token"):
        return 401  # no valid signature, no token
    if api or who.kind == "user":
        return 403
    # a page without a session: a read goes to the login, a write has no CSRF token
    return 303 if method in ("GET", "HEAD", "MOUNT") else 403


def expected_answer(route: tuple[str, str], who: Who) -> tuple[int, str | None]:
    """(status, where a 303 goes: a prefix of the location, or None for anywhere)."""
    method, template = route
    rule = ROUTES[route]
    api = template.startswith(API)
    may = permitted(rule.need, who, api)
    if may is None:
        with_session, without = PUBLIC_ANSWERS.get(route, (200, 200))
        return (with_session if who.kind == "user" else without), None
    if may:
        return permitted_answer(method, template, rule), None
    status = refusal(method, rule, who, api)
    return status, ("/login" if status == 303 else None)


def program_differs(route: tuple[str, str], who: Who) -> str:
    """Why the program answers this cell otherwise than the rules ('' if it does not)."""
    rule = ROUTES[route]
    api = route[1].startswith(API)
    by_rules = permitted(rule.need, who, api)
    by_program = permitted(rule.program or rule.need, who.as_the_program_has_it(), api)
    if by_rules == by_program:
        return ""
    if rule.program is not None and permitted(rule.program, who, api) != by_rules:
        return rule.why
    return next(
        reason
        for (role, p), reason in AUTHORITY.items()
        if role == who.role and (p in rule.need.all_of or p in rule.need.any_of)
    )


def cells(routes: list[tuple[str, str]]) -> list[Any]:
    found = []
    for route in routes:
        for who in API_WHO if route[1].startswith(API) else PAGE_WHO:
            why = program_differs(route, who)
            marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
            found.append(
                pytest.param(route, who, marks=marks, id=f"{route[0]} {route[1]} {who.label}")
            )
    return found


def call(s: Site, method: str, template: str, rule: Rule, who: Who) -> Response:
    signer = who.role if who.role in SIGNERS else "duty_operator"
    if rule.need.signer and not template.startswith(API) and who.role in SIGNERS:
        _signed_before(s, (method, template), rule, signer)
    if template == "/api/v1/notification-channels/{name}/subscriptions":
        _channel_made(s)
    if who.kind == "user":
        assert who.role is not None
        client, csrf = s.session_of(who.role, fresh=rule.fresh)
        return send(s, client, method, template, rule, csrf=csrf, signer=signer)
    token = s.tokens[TOKEN_KIND[who.label]] if who.kind == "token" else None
    return send(s, s.new_client(), method, template, rule, token=token, signer=signer)


def check_cell(s: Site, route: tuple[str, str], who: Who) -> None:
    method, template = route
    answer = call(s, method, template, ROUTES[route], who)
    status, where = expected_answer(route, who)
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    if where is not None:
        assert answer.headers["location"].startswith(where), answer.headers["location"]


# ---- the app's routes ---------------------------------------------------------------------


def _signed_before(s: Site, route: tuple[str, str], rule: Rule, signer: str) -> None:
    """The document of ``signer``'s cell (its own day or month) signed by the roles before
    it, as they would sign it: then it waits for ``signer``."""
    mine = {"signed_day": SIGNED_DAY[signer], "signed_month": SIGNED_MONTH[signer]}
    for role in SIGNERS[: SIGNERS.index(signer)]:
        client, csrf = s.session_of(role)
        answer = send(s, client, *route, rule, csrf=csrf, signer=role, **mine)
        assert answer.status_code == 303, (role, answer.status_code, answer.text[:300])


def _channel_made(s: Site) -> None:
    """The channel a subscription names, made once on this worker's center."""
    made = ROUTES[("POST", "/api/v1/notification-channels")]
    json = {**made.json, "name": PARAMS["name"]} if isinstance(made.json, dict) else None
    answer = send(
        s,
        s.new_client(),
        "POST",
        "/api/v1/notification-channels",
        replace(made, json=json),
        token=s.tokens["write"],
    )
    assert answer.status_code in (200, 201, 409), (answer.status_code, answer.text[:300])


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


def test_every_route_is_in_the_matrix(matrix_site: Site) -> None:
    routes = app_routes(matrix_site)
    missing = sorted(routes - ROUTES.keys())
    stale = sorted(ROUTES.keys() - routes)
    assert not missing, f"routes without an entry in ROUTES (add what they need): {missing}"
    assert not stale, f"entries of ROUTES the app does not have: {stale}"


@pytest.mark.parametrize(("route", "who"), cells(sorted(ROUTES)))
def test_each_caller_gets_the_answer_the_rules_give(
    matrix_site: Site, route: tuple[str, str], who: Who
) -> None:
    check_cell(matrix_site, route, who)


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
            route = (method, template)
            for who in API_WHO if template.startswith(API) else PAGE_WHO:
                if not program_differs(route, who):
                    check_cell(pg, route, who)
        token = pg.tokens["write_C1"]
        answer = pg.client.get(
            "/api/v1/mines/M2/summary", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 404
