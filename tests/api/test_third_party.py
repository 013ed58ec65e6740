"""Third-party tokens 第三方令牌 (finance, tax, safety departments): read-only, scoped to a
subtree, rate-limited per token. What a token may see on SQLite and PostgreSQL; what it
may do, its budget and the command that makes it on SQLite (not a matter of the database).

Mine M1 lies in county C1, mine M2 in county C2; the tax bureau's token sees C1 only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from coalwatch import cli
from coalwatch.auth.service import create_token
from coalwatch.config import Settings
from coalwatch.errors import Invalid
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.web.app import create_app
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, totalizer, world

NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def third_party_token(
    w: World, scope: str | None = "C1", rate_limit: int | None = None, write: bool = False
) -> str:
    engine = make_engine(w.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return create_token(
                session,
                "tax-bureau",
                scope,
                write,
                w.clock(),
                third_party=True,
                rate_limit_per_min=rate_limit,
            )
    finally:
        engine.dispose()


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=NOW) as w:
        w.mine("M1", org="C1")
        w.mine("M2", org="C2", station="S2")
        w.ok(
            w.upload(
                "S1",
                [
                    totalizer(1, datetime(2026, 3, 15, 1, 0, tzinfo=UTC), "B1", "100"),
                    totalizer(2, datetime(2026, 3, 15, 2, 0, tzinfo=UTC), "B1", "130.5"),
                ],
            )
        )
        w.ok(w.post("/fee-items", {"code": "resource_tax", "name": "资源税"}))
        yield w


DAY = {"period": "day", "from": "2026-03-15T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"}


def test_a_third_party_token_reads_its_subtree(w: World) -> None:
    token = third_party_token(w)
    for path, params in [
        ("/mines/M1/status", {}),
        ("/mines/M1/summary", {}),
        ("/mines/M1/production", DAY),
        ("/orgs/C1/production", DAY),
        ("/alarms", {}),
        ("/faults", {}),
        ("/fee-items", {}),
        ("/mines/M1/statements/2026-03", {}),
        ("/orgs/C1/statements/2026-03", {}),
        ("/mines/M1/production", {**DAY, "format": "csv"}),
    ]:
        response = w.get(path, token=token, **params)
        assert response.status_code == 200, (path, response.text)
    assert w.ok(w.get("/mines/M1/summary", token=token))["day"]["gross_t"] == 30.5


@SQLITE_ONLY
def test_a_third_party_token_cannot_change_anything(w: World) -> None:
    token = third_party_token(w)
    for method, path, body in [
        ("post", "/orgs", {"code": "C9", "name": "县", "kind": "county", "parent": "C1"}),
        ("post", "/fee-items", {"code": "fee", "name": "费"}),
        (
            "post",
            "/fee-items/resource_tax/rates",
            {"yuan_per_t": 5, "effective_from": "2026-01-01"},
        ),
        ("post", "/mines/M1/faults", {"phenomenon": "x", "occurred_at": NOW.isoformat()}),
        ("put", "/mines/M1/capacity", {"annual_capacity_t": 1, "effective_from": "2026-01-01"}),
    ]:
        response = getattr(w, method)(path, body, token=token)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "forbidden"


@SQLITE_ONLY
def test_a_third_party_token_is_never_a_write_token(w: World) -> None:
    with pytest.raises(Invalid, match="第三方令牌总是只读的"):
        third_party_token(w, write=True)


def test_outside_its_scope_nothing_exists(w: World) -> None:
    token = third_party_token(w)
    for path, params in [
        ("/mines/M2/status", {}),
        ("/mines/M2/production", DAY),
        ("/orgs/C2/production", DAY),
        ("/mines/M2/statements/2026-03", {}),
        ("/orgs/C2/statements/2026-03", {}),
        ("/mines/M2/summary", {}),
    ]:
        response = w.get(path, token=token, **params)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert w.ok(w.get("/alarms", token=token, mine="M2"))["items"] == []
    assert [m["code"] for m in w.ok(w.get("/mines", token=token))["items"]] == ["M1"]


@SQLITE_ONLY
def test_the_rate_limit_answers_429_with_retry_after_then_recovers(w: World) -> None:
    # 3 requests a minute: a burst of 3, then one more every 20 s
    token = third_party_token(w, rate_limit=3)
    for _ in range(3):
        assert w.get("/mines/M1/status", token=token).status_code == 200
    refused = w.get("/mines/M1/status", token=token)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["details"] == {"retry_after_s": 20}
    w.clock.advance(seconds=15)
    again = w.get("/mines/M1/status", token=token)
    assert again.status_code == 429 and again.headers["retry-after"] == "5"
    w.clock.advance(seconds=5)
    assert w.get("/mines/M1/status", token=token).status_code == 200
    assert w.get("/mines/M1/status", token=token).status_code == 429
    # a quiet minute refills the whole burst
    w.clock.advance(minutes=1)
    assert [w.get("/fee-items", token=token).status_code for _ in range(4)] == [200, 200, 200, 429]


@SQLITE_ONLY
def test_each_token_has_its_own_budget(w: World) -> None:
    first, second = third_party_token(w, rate_limit=1), third_party_token(w, rate_limit=1)
    assert w.get("/fee-items", token=first).status_code == 200
    assert w.get("/fee-items", token=first).status_code == 429
    assert w.get("/fee-items", token=second).status_code == 200


@SQLITE_ONLY
def test_third_party_tokens_get_60_requests_a_minute_by_default(w: World) -> None:
    token = third_party_token(w)
    codes = [w.get("/fee-items", token=token).status_code for _ in range(61)]
    assert codes[:60] == [200] * 60 and codes[60] == 429
    # a script token without a limit is not limited
    read = w.token_for(None)
    assert {w.get("/fee-items", token=read).status_code for _ in range(70)} == {200}


def test_429_is_documented_with_retry_after() -> None:
    app = create_app(Settings(database_url="sqlite:///:memory:", jobs=False))
    schema = app.openapi()
    answer = schema["paths"]["/api/v1/mines/{mine}/status"]["get"]["responses"]["429"]
    assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


@SQLITE_ONLY
def test_the_command_line_creates_a_third_party_token(
    w: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", w.url)
    args = ["token", "create", "--name", "finance", "--scope", "C1", "--third-party"]
    assert cli.main([*args, "--rate-limit", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "third-party read-only" in out[0] and "org C1" in out[0]
    token = out[-1]
    assert token.startswith("cw_")
    assert w.get("/mines/M1/status", token=token).status_code == 200
    assert w.get("/mines/M2/status", token=token).status_code == 404
    assert w.post("/fee-items", {"code": "x", "name": "x"}, token=token).status_code == 403
    assert w.get("/fee-items", token=token).status_code == 429

    assert cli.main([*args, "--write"]) == 1
    assert "a third-party token is always read-only" in capsys.readouterr().err
    assert cli.main(["token", "create", "--name", "n", "--rate-limit", "0"]) == 1
    assert "requests per minute" in capsys.readouterr().err
