"""Signing in to the pages as named users (shared by the duty and workflow page tests)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_admin
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import repository as user_repository
from coalwatch.users import service as users
from coalwatch.users.schemas import UserIn
from tests.support.world import World

PASSWORD = "Coalwatch-2026-pw"


def people(w: World, **roles: str) -> None:
    """An administrator ``chief`` and users with one built-in role each."""
    engine = make_engine(w.url)
    with transaction(make_sessionmaker(engine)) as session:
        create_admin(session, "chief", PASSWORD, w.clock())
        for username, role in roles.items():
            users.create_user(
                session,
                OPERATOR,
                UserIn(username=username, name=username, roles=[role], password=PASSWORD),
                w.clock(),
            )
            user = user_repository.user_by_username(session, username)
            assert user is not None
            user.must_change_password = False
    engine.dispose()


def csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def sign_in(client: TestClient, username: str) -> str:
    """Signs in; returns the session's CSRF token."""
    page = client.get("/login")
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(page.text)}
    )
    assert answer.status_code == 200, answer.text
    return csrf(client.get("/ledger/duty").text)


def post(client: TestClient, path: str, token: str, **fields: Any) -> str:
    answer = client.post(path, data={"csrf_token": token, **fields})
    assert answer.status_code == 200, answer.text
    return answer.text
