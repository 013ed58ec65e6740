"""A seeded center for the security tests: two counties, a mine in each, one user per
built-in role (unscoped, and a few in county C1), and the API's kinds of token.

County C1 holds mine M1 (station S1), county C2 holds mine M2 (station S2). The clock
stands at 2026-03-15 12:00 in Asia/Shanghai (04:00 UTC).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_token
from coalwatch.config import Settings
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import MineIn, PointIn, StationIn
from coalwatch.orgs import service as orgs
from coalwatch.orgs.schemas import OrgIn
from coalwatch.settlement import service as settlement
from coalwatch.settlement.schemas import FeeItemIn
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import repository as user_repository
from coalwatch.users import service as users
from coalwatch.users.schemas import UserIn
from coalwatch.web.app import create_app
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign
from tests.security.permissions import ROLES
from tests.support.world import Clock

NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
PASSWORD = "Coalwatch2026"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: the fee item every site holds
SEEDED_FEE = "sec_seed"
#: the roles that also get a user in county C1 (for the scope tests)
SCOPED_ROLES = ("admin", "duty_operator")


def csrf_of(client: TestClient, path: str = "/password") -> str:
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, (path, page.status_code, page.text[:300])
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    token = csrf_of(client, "/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


@dataclass
class Site:
    app: FastAPI
    client: TestClient
    clock: Clock
    url: str
    keys: dict[str, Ed25519PrivateKey]
    #: token kind ("read", "write", "third_party", "write_C1") → token
    tokens: dict[str, str] = field(default_factory=dict)
    #: user id by username
    user_ids: dict[str, int] = field(default_factory=dict)
    _clients: list[TestClient] = field(default_factory=list)
    _signed_in: dict[str, tuple[TestClient, str]] = field(default_factory=dict)

    def new_client(self) -> TestClient:
        client = TestClient(self.app)
        self._clients.append(client)
        return client

    def session_of(self, username: str, *, fresh: bool = False) -> tuple[TestClient, str]:
        """A client signed in as ``username`` and its CSRF token (cached unless fresh)."""
        if not fresh and username in self._signed_in:
            return self._signed_in[username]
        client = self.new_client()
        answer = sign_in(client, username)
        assert answer.status_code == 303, answer.text[:300]
        pair = (client, csrf_of(client))
        if not fresh:
            self._signed_in[username] = pair
        return pair

    def upload(self, station: str, records: list[dict[str, Any]]) -> Response:
        body = encode_batch(station, self.clock(), records)
        return self.client.post(
            f"/api/v1/stations/{station}/batches",
            content=body,
            headers={"X-Signature": sign(self.keys[station], body)},
        )

    def close(self) -> None:
        for client in self._clients:
            client.close()


def role_user(role: str, unit: str | None = None) -> str:
    return f"{role}@{unit}" if unit else role


def _seed(url: str, now: datetime) -> tuple[dict[str, Ed25519PrivateKey], dict[str, int]]:
    engine = make_engine(url)
    keys: dict[str, Ed25519PrivateKey] = {}
    ids: dict[str, int] = {}
    try:
        with transaction(make_sessionmaker(engine)) as session:
            users.ensure_builtin_roles(session, now)
            # a fee item for the cells that add rates (whichever worker runs them)
            settlement.create_item(
                session, OPERATOR, FeeItemIn(code=SEEDED_FEE, name="测试费"), now
            )
            for code, mine, station in (("C1", "M1", "S1"), ("C2", "M2", "S2")):
                orgs.create_org(
                    session, OPERATOR, OrgIn(code=code, name=f"{code} 县", kind="county"), now
                )
                mines.create_mine(
                    session,
                    OPERATOR,
                    MineIn(
                        code=mine, name=f"{mine} 矿", org=code, annual_capacity_t=Decimal(330000)
                    ),
                    "Asia/Shanghai",
                    now,
                )
                mines.create_point(
                    session, OPERATOR, mine, PointIn(code="B1", name="皮带秤", kind="belt"), now
                )
                keys[station] = generate_private_key()
                mines.register_station(
                    session,
                    OPERATOR,
                    mine,
                    StationIn(code=station, public_key=public_key_b64(keys[station])),
                    now,
                )
            people = [(role_user(role), None, role) for role in ROLES]
            people += [(role_user(role, "C1"), "C1", role) for role in SCOPED_ROLES]
            people.append(("victim", "C1", "third_party"))
            for username, unit, role in people:
                users.create_user(
                    session,
                    OPERATOR,
                    UserIn(
                        username=username, name=username, org=unit, roles=[role], password=PASSWORD
                    ),
                    now,
                )
                user = user_repository.user_by_username(session, username)
                assert user is not None
                user.must_change_password = False
                ids[username] = user.id
    finally:
        engine.dispose()
    return keys, ids


def make_token(url: str, now: datetime, kind: str, scope: str | None = None) -> str:
    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            return create_token(
                session,
                f"security-{kind}",
                scope,
                kind == "write",
                now,
                third_party=kind == "third_party",
                # high enough never to limit the matrix
                rate_limit_per_min=100_000 if kind == "third_party" else None,
            )
    finally:
        engine.dispose()


@contextmanager
def site(url: str, now: datetime = NOW) -> Iterator[Site]:
    clock = Clock(now)
    keys, ids = _seed(url, now)
    # the archive's files go to a folder of the site's own, removed with it
    var_dir = Path(tempfile.mkdtemp(prefix="coalwatch-site-"))
    settings = Settings(
        database_url=url,
        timezone="Asia/Shanghai",
        jobs=False,
        secret_key="security-test-key",
        var_dir=var_dir,
    )
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        s = Site(app=app, client=client, clock=clock, url=url, keys=keys, user_ids=ids)
        for kind in ("read", "write", "third_party"):
            s.tokens[kind] = make_token(url, now, kind)
        s.tokens["write_C1"] = make_token(url, now, "write", "C1")
        # a day of production at M1 and M2, and yesterday's (for the daily report)
        for station, point in (("S1", "B1"), ("S2", "B1")):
            yesterday = now - timedelta(days=1)
            records = [
                {
                    "seq": 1,
                    "ts": yesterday,
                    "type": "totalizer",
                    "point": point,
                    "total_t": Decimal("100"),
                },
                {
                    "seq": 2,
                    "ts": now - timedelta(hours=1),
                    "type": "totalizer",
                    "point": point,
                    "total_t": Decimal("130.5"),
                },
            ]
            answer = s.upload(station, records)
            assert answer.status_code == 200 and not answer.json()["rejected"], answer.text
        try:
            yield s
        finally:
            s.close()
    app.state.coalwatch.sessions.kw["bind"].dispose()
    shutil.rmtree(var_dir, ignore_errors=True)
