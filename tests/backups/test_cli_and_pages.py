"""``coalwatch backup ...`` end to end, the ledger in the API and its page 备份记录."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_admin, create_token
from coalwatch.backups import service
from coalwatch.cli import main
from coalwatch.config import Settings
from coalwatch.orgs.schemas import OrgIn
from coalwatch.orgs.service import create_org
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users.models import User
from coalwatch.web.app import create_app

PASSWORD = "Coal-2026-pass"


@pytest.fixture
def configured(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("COALWATCH_CONFIG", raising=False)
    monkeypatch.setenv("COALWATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COALWATCH_BACKUP_DIR", str(tmp_path / "backups"))
    return tmp_path / "backups"


def _only(directory: Path, trigger: str) -> Path:
    (found,) = directory.glob(f"*-{trigger}.sqlite3")
    return found


def test_create_list_verify_restore_prune_from_the_command_line(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "create"]) == 0
    out = capsys.readouterr().out
    backup = _only(configured, "manual")
    assert f"backup {backup}" in out and "sha256 " in out

    assert main(["backup", "list"]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and backup.name in out

    assert main(["backup", "verify", str(backup)]) == 0
    assert "SHA-256" in capsys.readouterr().out

    # a migrated database without data (the migrations' roles and the ledger are not
    # data) is restored into without --force
    assert main(["backup", "restore", str(backup)]) == 0
    out = capsys.readouterr().out
    assert "verified: the same figures" in out

    engine = make_engine(os.environ["COALWATCH_DATABASE_URL"])
    with transaction(make_sessionmaker(engine)) as session:
        create_admin(session, "chief", PASSWORD, datetime.now(UTC))
    engine.dispose()
    assert main(["backup", "restore", str(backup)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["backup", "restore", str(backup), "--force"]) == 0
    out = capsys.readouterr().out
    assert "backed up first" in out and "verified" in out
    assert _only(configured, "pre_restore").exists()

    assert main(["backup", "prune"]) == 0
    assert "0 pruned, 2 kept" in capsys.readouterr().out

    backup.write_bytes(backup.read_bytes()[:-7])
    assert main(["backup", "restore", str(backup), "--force"]) == 1
    assert "damaged" in capsys.readouterr().err


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=sqlite_url,
        jobs=False,
        secret_key="backup-test-key",
        var_dir=tmp_path,
        backup_dir=tmp_path / "backups",
    )
    service.create(sqlite_url, service.Policy.from_settings(settings), "manual", "op", _now())
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.coalwatch.sessions.kw["bind"].dispose()


def _now() -> datetime:
    return datetime.now(UTC)


def _token(url: str, scope: str | None) -> str:
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        if scope is not None:
            create_org(session, OPERATOR, OrgIn(code=scope, name=scope, kind="county"), _now())
        token = create_token(session, "t", scope, False, _now())
    engine.dispose()
    return token


def test_the_ledger_in_the_api_is_for_whole_tree_tokens(
    client: TestClient, sqlite_url: str
) -> None:
    token = _token(sqlite_url, None)
    answer = client.get("/api/v1/backups", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["items"]
    assert item["trigger"] == "manual" and item["status"] == "ok"
    assert len(item["sha256"]) == 64 and item["size_bytes"] > 0

    scoped = _token(sqlite_url, "C9")
    answer = client.get("/api/v1/backups", headers={"Authorization": f"Bearer {scoped}"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


def test_the_ledger_page_lists_the_backups(client: TestClient, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with transaction(make_sessionmaker(engine)) as session:
        create_admin(session, "chief", PASSWORD, _now())
        session.scalars(select(User)).one().must_change_password = False
    engine.dispose()
    form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf
    client.post(
        "/login", data={"username": "chief", "password": PASSWORD, "csrf_token": csrf.group(1)}
    )
    page = client.get("/ledger/backups")
    assert page.status_code == 200
    assert "备份记录" in page.text and "手动备份" in page.text and "可用" in page.text
    assert 'href="/ledger/backups"' in page.text  # in the menu 台账管理
