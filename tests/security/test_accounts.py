"""Sessions, lock-out and the password rules (sessions and lock-out on SQLite and
PostgreSQL; the rules, which do not depend on the database, on SQLite).

- Session fixation: the cookie and the CSRF token change at sign-in; a cookie from before
  the sign-in signs nobody in afterwards.
- Sign-out and a password change end sessions on the server: a kept copy of the cookie
  no longer works (the cookie is signed, but names a server-side session).
- Lock-out: N failed sign-ins lock the account for the configured minutes (here 3 and 7,
  not the defaults 5 and 15), the right password is refused while locked, all audited.
- Password rules (users.service.check_password_rules: at least 10 characters, letters
  and digits, not containing the account name) hold for `coalwatch admin create`, the
  password page and the user pages. The API sets no passwords (it takes tokens only).

The clock stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

import io
import json
from base64 import b64decode
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from coalwatch import cli
from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_admin
from coalwatch.config import Settings
from coalwatch.errors import Invalid
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.models import User, WebSession
from coalwatch.users.schemas import UserIn
from coalwatch.web.app import SESSION_COOKIE, create_app
from tests.security.site import PASSWORD, csrf_of, sign_in
from tests.support.world import Clock

NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
ADMIN_PASSWORD = "Admin-2026-pass"


class Center:
    def __init__(self, url: str, client: TestClient, clock: Clock) -> None:
        self.url = url
        self.client = client
        self.clock = clock
        self.extra: list[TestClient] = []
        self.engine = make_engine(url)

    def new_client(self) -> TestClient:
        client = TestClient(self.client.app)
        self.extra.append(client)
        return client

    def db(self) -> Any:
        return transaction(make_sessionmaker(self.engine))

    def audit(self, action: str, key: str) -> int:
        with self.db() as session:
            count: int = session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.entity_key == key)
            )
            return count


@pytest.fixture
def c(database_url: str) -> Iterator[Center]:
    yield from _center(database_url)


@pytest.fixture
def c1(sqlite_url: str) -> Iterator[Center]:
    """The same on SQLite only, for what does not depend on the database (the rules)."""
    yield from _center(sqlite_url)


def _center(database_url: str) -> Iterator[Center]:
    clock = Clock(NOW)
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        create_admin(session, "admin", ADMIN_PASSWORD, NOW)
        users.create_user(
            session,
            OPERATOR,
            UserIn(username="op1", name="值机员", roles=["duty_operator"], password=PASSWORD),
            NOW,
        )
        op = session.scalars(select(User).where(User.username == "op1")).one()
        op.must_change_password = False
    engine.dispose()
    settings = Settings(
        database_url=database_url,
        timezone="Asia/Shanghai",
        jobs=False,
        secret_key="security-accounts-key",
        login_max_failures=3,
        lockout_minutes=7,
    )
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        center = Center(database_url, client, clock)
        yield center
        for extra in center.extra:
            extra.close()
        center.engine.dispose()
    app.state.coalwatch.sessions.kw["bind"].dispose()


def session_data(cookie: str) -> dict[str, Any]:
    """What a signed session cookie holds (its first part is base64 JSON)."""
    payload = cookie.split(".")[0]
    data: dict[str, Any] = json.loads(b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def with_cookie(c: Center, cookie: str) -> TestClient:
    client = c.new_client()
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def signed_in(client: TestClient) -> bool:
    answer = client.get("/monitor", follow_redirects=False)
    assert answer.status_code in (200, 303), answer.status_code
    return answer.status_code == 200


# ---- session fixation and the end of sessions --------------------------------------------


def test_sign_in_gives_a_new_session_and_the_old_cookie_stays_anonymous(c: Center) -> None:
    browser = c.client
    csrf_of(browser, "/login")
    planted = browser.cookies[SESSION_COOKIE]
    before = session_data(planted)
    assert "uid" not in before and "csrf" in before

    assert sign_in(browser, "op1").status_code == 303
    after = browser.cookies[SESSION_COOKIE]
    assert after != planted
    data = session_data(after)
    assert data["csrf"] != before["csrf"]  # a CSRF token seen before sign-in is useless
    assert isinstance(data["sid"], str) and len(data["sid"]) >= 32
    assert signed_in(browser)
    # whoever planted or kept the cookie of before the sign-in is not signed in by it
    assert not signed_in(with_cookie(c, planted))


def test_sign_out_ends_the_session_on_the_server(c: Center) -> None:
    browser = c.client
    sign_in(browser, "op1")
    kept = browser.cookies[SESSION_COOKIE]
    other = c.new_client()
    sign_in(other, "op1")  # the same user in another browser
    assert signed_in(with_cookie(c, kept))

    token = csrf_of(browser)
    answer = browser.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert not signed_in(browser)
    # a copy of the signed-in cookie, replayed after the sign-out, signs nobody in
    assert not signed_in(with_cookie(c, kept))
    assert signed_in(other)  # the other browser's session is its own
    with c.db() as session:
        rows = session.scalars(select(WebSession).order_by(WebSession.id)).all()
        assert [r.ended_at is not None for r in rows] == [True, False]
        assert all(len(r.token_sha256) == 64 for r in rows)  # only digests are stored
        assert session_data(kept)["sid"] not in {r.token_sha256 for r in rows}
    assert c.audit("logout", "op1") == 1


def test_a_password_change_ends_the_other_sessions_but_not_this_one(c: Center) -> None:
    browser = c.client
    sign_in(browser, "op1")
    other = c.new_client()
    sign_in(other, "op1")
    kept = other.cookies[SESSION_COOKIE]
    token = csrf_of(browser)
    answer = browser.post(
        "/password",
        data={"old": PASSWORD, "new": "Another-2026", "again": "Another-2026", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert signed_in(browser)
    assert not signed_in(other)
    assert not signed_in(with_cookie(c, kept))
    assert c.audit("password.change", "op1") == 1


def test_a_session_of_a_deleted_user_ends_with_the_user(c: Center) -> None:
    user_browser = c.new_client()
    sign_in(user_browser, "op1")
    admin = c.client
    sign_in(admin, "admin", ADMIN_PASSWORD)
    with c.db() as session:
        op_id = session.scalars(select(User.id).where(User.username == "op1")).one()
    answer = admin.post(
        "/system/users-delete",
        data={"ids": str(op_id), "csrf_token": csrf_of(admin)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert not signed_in(user_browser)
    with c.db() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(WebSession).where(WebSession.user_id == op_id)
            )
            == 0
        )


# ---- lock-out ----------------------------------------------------------------------------


def test_failed_sign_ins_lock_the_account_for_the_configured_minutes(c: Center) -> None:
    browser = c.client
    for attempt in range(3):
        answer = sign_in(browser, "op1", "Wrong-2026-pass")
        assert answer.status_code == 401, attempt
    # the third failure locks (login_max_failures=3); the page says what it says for any
    # failure, so that it does not tell which user names exist
    assert "用户名或密码错误，或账户已被暂时锁定" in answer.text
    assert c.audit("user.locked", "op1") == 1

    # the right password is refused while locked: 7 minutes (lockout_minutes=7)
    c.clock.advance(minutes=6, seconds=59)
    answer = sign_in(browser, "op1")
    assert answer.status_code == 401 and "用户名或密码错误，或账户已被暂时锁定" in answer.text
    assert not signed_in(browser)
    with c.db() as session:
        user = session.scalars(select(User).where(User.username == "op1")).one()
        # 04:00 UTC + 7 min; the refused right password did not extend or lift the lock
        assert user.locked_until == NOW + timedelta(minutes=7)

    c.clock.advance(seconds=1)
    assert sign_in(browser, "op1").status_code == 303
    assert signed_in(browser)
    # 3 wrong passwords + 1 right one while locked failed; then one success
    assert c.audit("login.failed", "op1") == 4
    assert c.audit("login", "op1") == 1
    with c.db() as session:
        reasons = [
            json.loads(e.detail)["reason"]
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "login.failed", AuditEntry.entity_key == "op1")
                .order_by(AuditEntry.id)
            )
        ]
    assert reasons == ["bad_password", "bad_password", "bad_password", "locked"]


def test_a_lock_holds_for_every_browser(c1: Center) -> None:
    for _ in range(3):
        sign_in(c1.client, "op1", "Wrong-2026-pass")
    elsewhere = c1.new_client()
    assert sign_in(elsewhere, "op1").status_code == 401


# ---- the password rules ------------------------------------------------------------------

#: (password, why it is refused) for an account named "op1" / "chief"
WEAK = [
    ("Short-1", "至少 10 位"),
    ("onlyletterspassword", "字母和数字"),
    ("1234567890123", "字母和数字"),
    ("Chief-2026-chief", "用户名"),
]


def test_the_rules_hold_for_the_admin_command(
    c1: Center, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", c1.url)
    for password, reason in WEAK:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        assert cli.main(["admin", "create", "--username", "chief", "--password-stdin"]) == 1
        assert reason in capsys.readouterr().err, password
    with c1.db() as session:
        assert session.scalars(select(User).where(User.username == "chief")).first() is None
    monkeypatch.setattr("sys.stdin", io.StringIO("Coal-Watch-2026\n"))
    assert cli.main(["admin", "create", "--username", "chief", "--password-stdin"]) == 0
    assert sign_in(c1.client, "chief", "Coal-Watch-2026").status_code == 303


def test_the_rules_hold_for_the_password_page(c1: Center) -> None:
    browser = c1.client
    sign_in(browser, "op1")
    for password, reason in WEAK:
        new = password.replace("Chief", "Op1").replace("chief", "op1")
        answer = browser.post(
            "/password",
            data={"old": PASSWORD, "new": new, "again": new, "csrf_token": csrf_of(browser)},
        )
        assert answer.status_code == 422 and reason in answer.text, password
    assert sign_in(c1.new_client(), "op1").status_code == 303  # the old one still works
    assert c1.audit("password.change", "op1") == 0


def test_the_rules_hold_for_the_user_pages(c1: Center) -> None:
    admin = c1.client
    sign_in(admin, "admin", ADMIN_PASSWORD)
    with c1.db() as session:
        op_id = session.scalars(select(User.id).where(User.username == "op1")).one()
    for password, reason in WEAK:
        created = admin.post(
            "/system/users/new",
            data={
                "username": "chief",
                "name": "总工",
                "roles": "chief_engineer",
                "password": password,
                "csrf_token": csrf_of(admin),
            },
        )
        assert created.status_code == 422 and reason in created.text, password
        reset = password.replace("Chief", "Op1").replace("chief", "op1")
        answer = admin.post(
            f"/system/users/{op_id}",
            data={
                "name": "值机员",
                "roles": "duty_operator",
                "active": "on",
                "password": reset,
                "csrf_token": csrf_of(admin),
            },
        )
        assert answer.status_code == 422 and reason in answer.text, reset
    with c1.db() as session:
        assert session.scalars(select(User).where(User.username == "chief")).first() is None
    assert sign_in(c1.new_client(), "op1").status_code == 303  # unchanged


def test_the_rules_in_the_service() -> None:
    users.check_password_rules("Coal-Watch-2026", "op1")
    for password, _ in WEAK:
        with pytest.raises(Invalid):
            users.check_password_rules(password, "chief")
    with pytest.raises(Invalid):
        users.check_password_rules("ADMIN-2026-xyz", "admin")  # the name in any case


def test_a_password_expires_after_the_configured_days(c: Center) -> None:
    # password_max_age_days defaults to 90: at day 90 the user must change it first
    c.clock.advance(days=90)
    answer = sign_in(c.client, "op1")
    assert answer.status_code == 303 and answer.headers["location"] == "/password"
    location = c.client.get("/monitor", follow_redirects=False).headers["location"]
    assert location == "/password?next=/monitor"
