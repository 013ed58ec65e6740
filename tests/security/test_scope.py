"""Org scope: a user (or token) of county C1 can neither read nor write mine M2 of county
C2. Out of scope answers exactly as a mine that does not exist (so codes cannot be
probed), and nothing of C2 shows in any answer. On the seeded SQLite center.

Principals: a write token scoped to C1 (the API), and the users ``admin@C1`` (every
permission, unit C1) and ``duty_operator@C1`` (the pages).
"""

from __future__ import annotations

from typing import Any

import pytest
from httpx import Response
from sqlalchemy import select

from coalwatch.storage.base import Base
from coalwatch.storage.session import make_engine
from tests.security.routes import API, ROUTES, Rule, send
from tests.security.site import Site

#: what of county C2 would show if it leaked
MARKERS = ('"M2"', '"C2"', '"S2"', "M2 矿", "C2 县", 'value="M2"', 'value="C2"')
SCOPED = ("token_or_session", "token", "perms", "signed_in")
ADDRESSED = sorted(
    route
    for route, rule in ROUTES.items()
    if rule.need.kind in SCOPED
    and rule.path is None
    and any(p in route[1] for p in ("{mine}", "{org}", "{station}"))
)
READS = sorted(
    route
    for route, rule in ROUTES.items()
    if route[0] == "GET" and rule.need.kind in SCOPED and not rule.stream
)


def as_scoped(s: Site, route: tuple[str, str], rule: Rule, **values: str) -> list[Response]:
    method, template = route
    if template.startswith(API):
        token = s.tokens["write_C1"]
        return [send(s, s.new_client(), method, template, rule, token=token, **values)]
    answers = []
    for user in ("admin@C1", "duty_operator@C1"):
        client, csrf = s.session_of(user, fresh=rule.fresh)
        answers.append(send(s, client, method, template, rule, csrf=csrf, **values))
    return answers


def _where(answer: Response, code: str) -> tuple[int, str]:
    return answer.status_code, answer.headers.get("location", "").replace(code, "<code>")


@pytest.mark.parametrize("route", ADDRESSED, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_mine_out_of_scope_answers_as_one_that_does_not_exist(
    s: Site, route: tuple[str, str]
) -> None:
    rule = ROUTES[route]
    out = as_scoped(s, route, rule, mine="M2", org="C2", station="S2")
    absent = as_scoped(s, route, rule, mine="NOPE", org="NOPE", station="NOPE")
    for answer, none in zip(out, absent, strict=True):
        assert answer.status_code < 500, answer.text[:300]
        where = _where(answer, "M2" if "{mine}" in route[1] else "C2")
        assert where == _where(none, "NOPE"), (answer.status_code, answer.text[:300])
        if route[1].startswith(API):
            assert answer.status_code == 404, answer.text[:300]
        else:
            # 403: the duty operator lacks the permission, checked before the scope
            assert answer.status_code in (303, 403, 404), answer.text[:300]
        for marker in MARKERS:
            assert marker not in answer.text, marker


@pytest.mark.parametrize("route", READS, ids=lambda r: f"{r[0]} {r[1]}")
def test_nothing_of_another_county_shows(s: Site, route: tuple[str, str]) -> None:
    rule = ROUTES[route]
    # the mine of the address is in scope; filters ask for the other county
    asking = Rule(rule.need, rule.path, {**rule.query, "mine": "M2", "org": "C2"})
    for answer in [*as_scoped(s, route, rule), *as_scoped(s, route, asking)]:
        assert answer.status_code < 500, answer.text[:300]
        leaked = [m for m in MARKERS if m in answer.text]
        assert not leaked, (leaked, answer.status_code, answer.text[:500])


#: tables a refused request may still write: the caller's session and token bookkeeping,
#: and the audit trail
BOOKKEEPING = {"web_sessions", "api_tokens", "users", "audit_log", "job_leases"}


def everything(s: Site) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but BOOKKEEPING, in a stable order."""
    engine = make_engine(s.url)
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(
                    (tuple(map(repr, row)) for row in connection.execute(select(table))),
                )
                for table in Base.metadata.sorted_tables
                if table.name not in BOOKKEEPING
            }
    finally:
        engine.dispose()


WRITES = [route for route in ADDRESSED if route[0] != "GET"]


def test_writes_out_of_scope_change_nothing(s: Site) -> None:
    """Every write addressed to M2 / C2 / S2, by the principals of county C1, changes no
    row of the database."""
    before = everything(s)
    assert before["mines"] and before["records"]  # the seeded center, so the check can fail
    for route in WRITES:
        for answer in as_scoped(s, route, ROUTES[route], mine="M2", org="C2", station="S2"):
            assert answer.status_code in (303, 403, 404), (route, answer.text[:300])
    after = everything(s)
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, {name: (before[name], after[name]) for name in changed}
