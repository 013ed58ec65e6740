"""CSRF: every page route that changes something (POST) refuses a request without the
session's CSRF token, or with a wrong one (another session's), and changes nothing; with
the right token it goes through. On the seeded SQLite center of the package.

"Changes nothing" is checked on the row count of every table and the last audit entry
(every change of configuration or data is audited).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.audit.models import AuditEntry
from coalwatch.storage.base import Base
from coalwatch.storage.session import transaction
from tests.security.routes import API, ROUTES, send
from tests.security.site import PASSWORD, Site, csrf_of

PAGE_POSTS = sorted(
    (method, path)
    for method, path in ROUTES
    if method in ("POST", "PUT", "PATCH", "DELETE") and not path.startswith(API)
)


def snapshot(s: Site) -> tuple[Any, ...]:
    """The row count of every table and the last audit entry, in one query through the
    center's own connections."""
    sessions: sessionmaker[Session] = s.app.state.coalwatch.sessions
    counts = [
        select(func.count()).select_from(table).scalar_subquery()
        for table in Base.metadata.sorted_tables
    ]
    last = select(func.max(AuditEntry.id)).scalar_subquery()
    with transaction(sessions) as session:
        return tuple(session.execute(select(*counts, last)).one())


def csrf_refusal(answer: Any) -> bool:
    return (
        answer.status_code == 403 and "CSRF 令牌缺失或错误" in answer.text
    )  # the page in Chinese (the default)


def test_every_page_post_is_covered() -> None:
    assert ("POST", "/login") in PAGE_POSTS and ("POST", "/logout") in PAGE_POSTS
    assert len(PAGE_POSTS) >= 20


@pytest.mark.parametrize("route", PAGE_POSTS, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_form_without_the_right_token_is_refused_and_changes_nothing(
    s: Site, route: tuple[str, str]
) -> None:
    method, template = route
    rule = ROUTES[route]
    # the administrator may do everything (signing takes the signer's own role): only the
    # token can refuse
    client, right = s.session_of("duty_operator" if rule.need.signer else "admin", fresh=rule.fresh)
    _, other_sessions = s.session_of("regulator")
    before = snapshot(s)
    for wrong in (None, "", other_sessions, right[:-2] + "xx"):
        if wrong is None:  # no token at all
            answer = send(s, client, method, template, rule)
        else:
            answer = send(s, client, method, template, rule, csrf=wrong)
        assert csrf_refusal(answer), (wrong, answer.status_code, answer.text[:200])
        assert snapshot(s) == before, wrong
    # the session still works, and the right token goes through
    answer = send(s, client, method, template, rule, csrf=right)
    assert not csrf_refusal(answer) and answer.status_code < 500, answer.text[:300]


def test_a_sign_in_without_the_token_is_refused_and_not_even_counted(s: Site) -> None:
    client = s.new_client()
    csrf_of(client, "/login")
    before = snapshot(s)
    answer = client.post(
        "/login", data={"username": "admin", "password": PASSWORD}, follow_redirects=False
    )
    assert csrf_refusal(answer)
    assert snapshot(s) == before  # no audit entry, no failure counted
    assert client.get("/monitor", follow_redirects=False).status_code == 303


def test_the_token_is_checked_in_the_header_too(s: Site) -> None:
    """htmx sends the token as X-CSRF-Token; a wrong header is not rescued by the form."""
    client, right = s.session_of("admin")
    answer = client.post(
        "/system/orgs",
        data={"code": "CSRF1", "name": "x", "kind": "county", "csrf_token": right},
        headers={"X-CSRF-Token": "wrong"},
        follow_redirects=False,
    )
    assert csrf_refusal(answer)
