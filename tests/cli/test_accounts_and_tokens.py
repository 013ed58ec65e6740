"""``coalwatch token list | revoke`` and ``coalwatch admin unlock | reset-password``,
run as the operator runs them, on SQLite: what they print and refuse does not depend on the
database (sessions and lock-out are tested on both in tests/security/test_accounts.py)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch import cli
from coalwatch.audit.models import AuditEntry
from coalwatch.auth.passwords import verify_password
from coalwatch.auth.service import authenticate, create_admin, create_token
from coalwatch.errors import Unauthorized
from coalwatch.storage.models import Org
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.models import User, WebSession

#: 10:00 in Asia/Shanghai (UTC+8) is 02:00 UTC
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
PASSWORD = "Coal-Watch-2026"


class Db:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    def session(self) -> AbstractContextManager[Session]:
        return transaction(self.sessions)


@pytest.fixture
def db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COALWATCH_TIMEZONE", "Asia/Shanghai")
    monkeypatch.delenv("COALWATCH_CONFIG", raising=False)
    found = Db(sqlite_url)
    yield found
    found.engine.dispose()


def _run(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    saved = cli.sys.stdin
    cli.sys.stdin = io.StringIO(stdin)
    try:
        code = cli.main(list(args))
    finally:
        cli.sys.stdin = saved
    out, err = capsys.readouterr()
    return code, out, err


def _audit(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _county(session: Session) -> None:
    org = Org(code="C1", name="测试县", kind="county", parent_id=None, path="", created_at=NOW)
    session.add(org)
    session.flush()
    org.path = f"/{org.id}/"


# ---- tokens -----------------------------------------------------------------------------


def test_token_list_shows_every_token_but_never_its_secret(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.session() as session:
        _county(session)
        secrets = [
            create_token(session, "scada", None, True, NOW),
            create_token(session, "county-reader", "C1", False, NOW + timedelta(minutes=5)),
            create_token(session, "tax", None, False, NOW, third_party=True),
        ]
    code, out, err = _run(capsys, "token", "list")
    assert code == 0, err
    lines = out.splitlines()
    for secret in secrets:
        assert secret not in out
        assert secret[3:] not in out  # not even without its prefix
    scada = next(line for line in lines if " scada " in f" {line} ")
    assert "write" in scada and "whole tree" in scada
    # created 02:00 UTC = 10:00 in Asia/Shanghai (UTC+8)
    assert "2026-03-01 10:00" in scada
    reader = next(line for line in lines if "county-reader" in line)
    assert "read" in reader and "C1" in reader and "2026-03-01 10:05" in reader
    tax = next(line for line in lines if " tax " in f" {line} ")
    assert "third-party" in tax
    assert all("revoked" not in line.split() for line in (scada, reader, tax))


def test_token_revoke_by_name_and_by_id_is_audited_and_the_token_stops_working(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.session() as session:
        first = create_token(session, "scada", None, True, NOW)
        second = create_token(session, "report-bot", None, False, NOW)
    code, out, err = _run(capsys, "token", "revoke", "scada")
    assert code == 0, err
    assert "scada" in out and "revoked" in out
    with db.session() as session:
        with pytest.raises(Unauthorized):
            authenticate(session, f"Bearer {first}")
        authenticate(session, f"Bearer {second}")  # the other one still works
        entries = _audit(session, "token.revoke")
        assert [(e.entity, e.entity_key) for e in entries] == [("token", "scada")]
        assert entries[0].actor.startswith("operator")
    code, out, _ = _run(capsys, "token", "list")
    scada = next(line for line in out.splitlines() if "scada" in line)
    assert "revoked" in scada
    # by id: the id is the first column of the list
    report = next(line for line in out.splitlines() if "report-bot" in line)
    second_id = report.split()[0]
    code, out, err = _run(capsys, "token", "revoke", second_id)
    assert code == 0, err
    with db.session() as session, pytest.raises(Unauthorized):
        authenticate(session, f"Bearer {second}")


def test_token_revoke_rejects_unknown_ambiguous_and_revoked_tokens(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.session() as session:
        create_token(session, "twin", None, False, NOW)
        create_token(session, "twin", None, True, NOW)
        create_token(session, "once", None, False, NOW)
    code, _, err = _run(capsys, "token", "revoke", "nobody")
    assert code == 1 and "没有名称或编号为 nobody 的令牌" in err, err
    code, _, err = _run(capsys, "token", "revoke", "999999")
    assert code == 1 and "没有名称或编号为 999999 的令牌" in err, err
    code, _, err = _run(capsys, "token", "revoke", "twin")
    assert code == 1 and "有 2 个令牌名为 twin" in err and "编号" in err, err
    assert _run(capsys, "token", "revoke", "once")[0] == 0
    code, _, err = _run(capsys, "token", "revoke", "once")
    assert code == 1 and "早已吊销" in err, err
    assert "Traceback" not in err
    with db.session() as session:
        assert len(_audit(session, "token.revoke")) == 1


# ---- accounts ---------------------------------------------------------------------------


def _chief(db: Db) -> None:
    with db.session() as session:
        create_admin(session, "chief", PASSWORD, NOW)


def test_admin_unlock_ends_a_lock_out_and_is_audited(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    _chief(db)
    policy = users.Policy(max_failures=3, lockout=timedelta(minutes=15))
    with db.session() as session:
        for _ in range(3):  # three failures in a row lock the account for 15 minutes
            users.login(session, "chief", "wrong-password-1", NOW, policy, "test")
    with db.session() as session:
        locked = users.login(session, "chief", PASSWORD, NOW, policy, "test")
        assert locked.user_id is None and locked.error == users.BAD_LOGIN  # the right password
    code, out, err = _run(capsys, "admin", "unlock", "--username", "chief")
    assert code == 0, err
    assert "chief" in out and "unlocked" in out
    with db.session() as session:
        assert users.login(session, "chief", PASSWORD, NOW, policy, "test").error is None
        entries = _audit(session, "user.unlock")
        assert [e.entity_key for e in entries] == ["chief"]


def test_admin_unlock_of_an_unknown_user_fails_clearly(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "admin", "unlock", "--username", "ghost")
    assert code == 1 and "no user" in err and "ghost" in err, err
    assert "Traceback" not in err


def test_admin_reset_password_follows_the_rules_ends_sessions_and_is_audited(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    _chief(db)
    policy = users.Policy()
    with db.session() as session:
        signed = users.login(session, "chief", PASSWORD, NOW, policy, "test")
        assert signed.session_id is not None
    # too short, no digit, contains the account name: each refused, nothing changes
    for weak, reason in (
        ("Short-1", "至少 10 位"),
        ("onlyletterspassword", "字母和数字"),
        ("Chief-2026-chief", "用户名"),
    ):
        code, _, err = _run(
            capsys, "admin", "reset-password", "--username", "chief", "--password-stdin",
            stdin=weak + "\n",
        )  # fmt: skip
        assert code == 1 and reason in err, (weak, err)
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == "chief")).one()
        assert verify_password(user.password_hash, PASSWORD)
        assert _audit(session, "password.reset") == []
    code, out, err = _run(
        capsys, "admin", "reset-password", "--username", "chief", "--password-stdin",
        stdin="New-Coal-2027\n",
    )  # fmt: skip
    assert code == 0, err
    assert "chief" in out and "must change" in out
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == "chief")).one()
        assert verify_password(user.password_hash, "New-Coal-2027")
        assert user.must_change_password
        sessions = session.scalars(select(WebSession).where(WebSession.user_id == user.id))
        assert all(s.ended_at is not None for s in sessions)
        entries = _audit(session, "password.reset")
        assert [e.entity_key for e in entries] == ["chief"]
        assert "New-Coal-2027" not in json.dumps([e.detail for e in entries])
        assert (
            users.resume(session, user.id, signed.stamp or "", signed.session_id, NOW, policy)
            is None
        )


def test_admin_reset_password_of_an_unknown_user_fails_clearly(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys, "admin", "reset-password", "--username", "ghost", "--password-stdin",
        stdin="New-Coal-2027\n",
    )  # fmt: skip
    assert code == 1 and "no user" in err and "ghost" in err, err


def _on_a_terminal(args: list[str], url: str, typed: list[str]) -> tuple[int, str]:
    """Run ``coalwatch`` with a pseudo-terminal as standard input, typing each line of
    ``typed`` once its prompt (a line ending in ": ") has been printed."""
    primary, secondary = os.openpty()
    env = {**os.environ, "COALWATCH_DATABASE_URL": url}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("coalwatch")), *args],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # no controlling terminal: getpass reads the pty on stdin
    )
    os.close(secondary)
    assert process.stderr is not None
    prompts = b""
    try:
        for index, line in enumerate(typed):
            # getpass flushes what was typed before it turned echo off: wait for the prompt
            while prompts.count(b": ") <= index:
                chunk = os.read(process.stderr.fileno(), 1024)
                assert chunk, f"no prompt; printed {prompts!r}"
                prompts += chunk
            os.write(primary, line.encode() + b"\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out.decode() + (prompts + err).decode()


def test_admin_create_asks_for_the_password_twice_on_a_terminal(sqlite_url: str) -> None:
    code, printed = _on_a_terminal(
        ["admin", "create", "--username", "chief"], sqlite_url, ["Not-The-Same-2026", PASSWORD]
    )
    assert code == 1 and "differ" in printed, printed
    code, printed = _on_a_terminal(
        ["admin", "create", "--username", "chief"], sqlite_url, [PASSWORD, PASSWORD]
    )
    assert code == 0, printed
    assert PASSWORD not in printed  # not echoed
    db = Db(sqlite_url)
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == "chief")).one()
        assert verify_password(user.password_hash, PASSWORD)
    db.engine.dispose()
