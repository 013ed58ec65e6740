"""A test world: a center app on a database, a controllable clock, and helpers that
configure orgs, mines, points and stations through the API and sign batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from httpx import Response

from coalwatch.auth.service import create_token
from coalwatch.config import Settings
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.web.app import create_app
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Station:
    code: str
    key: Ed25519PrivateKey
    next_seq: int = 1

    def seqs(self, n: int) -> list[int]:
        first = self.next_seq
        self.next_seq += n
        return list(range(first, first + n))


@dataclass
class World:
    client: TestClient
    clock: Clock
    token: str
    url: str
    stations: dict[str, Station] = field(default_factory=dict)

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def post(self, path: str, body: Any, token: str | None = None) -> Response:
        return self.client.post(f"/api/v1{path}", json=body, headers=self.headers(token))

    def put(self, path: str, body: Any, token: str | None = None) -> Response:
        return self.client.put(f"/api/v1{path}", json=body, headers=self.headers(token))

    def get(self, path: str, token: str | None = None, **params: Any) -> Response:
        return self.client.get(f"/api/v1{path}", params=params, headers=self.headers(token))

    def ok(self, response: Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def tick(self) -> None:
        """One round of the timed rules and deliveries, at the world's clock."""
        from coalwatch.jobs.scheduler import run_once

        state = self.client.app.state.coalwatch  # type: ignore[attr-defined]
        run_once(state.sessions, state.broker, self.clock())

    def alarms(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ok(self.get("/alarms", **params))["items"]
        return items

    def token_for(self, scope: str | None, write: bool = False) -> str:
        engine = make_engine(self.url)
        with transaction(make_sessionmaker(engine)) as session:
            token = create_token(session, "test", scope, write, self.clock())
        engine.dispose()
        return token

    def users(
        self, accounts: list[tuple[str, str | None, list[str]]], password: str, ready: bool = False
    ) -> None:
        """Users (username, unit, roles) with one password; ``ready``: already changed."""
        from sqlalchemy import select

        from coalwatch.auth.principal import OPERATOR
        from coalwatch.users import service as users
        from coalwatch.users.models import User
        from coalwatch.users.schemas import UserIn

        engine = make_engine(self.url)
        with transaction(make_sessionmaker(engine)) as session:
            for username, unit, roles in accounts:
                users.create_user(
                    session,
                    OPERATOR,
                    UserIn(
                        username=username, name=username, org=unit, roles=roles, password=password
                    ),
                    self.clock(),
                )
            if ready:
                names = [username for username, _, _ in accounts]
                for user in session.scalars(select(User).where(User.username.in_(names))):
                    user.must_change_password = False
        engine.dispose()

    def mine(
        self,
        code: str = "M1",
        *,
        org: str = "C1",
        capacity_t: str | int = 330000,
        belts: tuple[str, ...] = ("B1",),
        trips: tuple[str, ...] = (),
        station: str | None = "S1",
        rollover_t: str | int | None = None,
        accepted: bool = True,
    ) -> None:
        """A county (if missing), a mine, its points and one station. ``accepted``: its
        system is accepted from the start, as the upgrade leaves a mine that was running
        (a new mine is under construction until a supervising unit accepts it)."""
        existing = {o["code"] for o in self.ok(self.get("/orgs"))["items"]}
        if org not in existing:
            self.ok(self.post("/orgs", {"code": org, "name": f"{org} 县", "kind": "county"}))
        self.ok(
            self.post(
                "/mines",
                {"code": code, "name": f"{code} 矿", "org": org, "annual_capacity_t": capacity_t},
            )
        )
        if accepted:
            self.accept_from_the_start(code)
        for point in belts:
            body: dict[str, Any] = {"code": point, "name": f"{point} 皮带秤", "kind": "belt"}
            if rollover_t is not None:
                body["rollover_t"] = rollover_t
            self.ok(self.post(f"/mines/{code}/points", body))
        for point in trips:
            self.ok(
                self.post(f"/mines/{code}/points", {"code": point, "name": point, "kind": "skip"})
            )
        if station:
            key = generate_private_key()
            self.ok(
                self.post(
                    f"/mines/{code}/stations", {"code": station, "public_key": public_key_b64(key)}
                )
            )
            self.stations[station] = Station(station, key)

    def accept_from_the_start(self, code: str) -> None:
        """The mine's system accepted since long before any record (what migration 0030
        records for the mines that exist when it runs)."""
        from datetime import date

        from sqlalchemy import select

        from coalwatch.acceptance.models import AcceptanceDecision
        from coalwatch.storage.models import Mine

        state = self.client.app.state.coalwatch  # type: ignore[attr-defined]
        with transaction(state.sessions) as session:
            mine = session.scalars(select(Mine).where(Mine.code == code)).one()
            session.add(
                AcceptanceDecision(
                    mine_id=mine.id,
                    kind="acceptance",
                    passed=True,
                    state="accepted",
                    decided_on=date(2000, 1, 1),
                    decided_at=self.clock(),
                    decided_by="系统升级",
                )
            )

    def upload(
        self,
        station: str,
        records: list[dict[str, Any]],
        *,
        sent_at: datetime | None = None,
        key: Ed25519PrivateKey | None = None,
        body: bytes | None = None,
    ) -> Response:
        st = self.stations[station]
        if body is None:
            body = encode_batch(station, sent_at or self.clock(), records)
        signature = sign(key or st.key, body)
        return self.client.post(
            f"/api/v1/stations/{station}/batches",
            content=body,
            headers={"X-Signature": signature, "Content-Type": "application/json"},
        )


def totalizer(seq: int, ts: datetime, point: str, total_t: Any) -> dict[str, Any]:
    from decimal import Decimal

    return {
        "seq": seq,
        "ts": ts,
        "type": "totalizer",
        "point": point,
        "total_t": Decimal(str(total_t)),
    }


def trip(seq: int, ts: datetime, point: str, net_t: Any) -> dict[str, Any]:
    from decimal import Decimal

    return {"seq": seq, "ts": ts, "type": "trip", "point": point, "net_t": Decimal(str(net_t))}


@contextmanager
def world(
    url: str,
    now: datetime | None = None,
    var_dir: Path | None = None,
    lock_timeout_s: float = 60,
) -> Iterator[World]:
    clock = Clock(now or datetime(2026, 3, 15, 4, 0, tzinfo=UTC))
    # test runs share one PostgreSQL database (a schema each) on a busy machine: a wait
    # is no database failure unless a case asks for a short lock time-out
    settings = Settings(
        database_url=url,
        timezone="Asia/Shanghai",
        jobs=False,
        secret_key="test-session-key",
        db_lock_timeout_s=lock_timeout_s,
        db_statement_timeout_s=120,
        **({"var_dir": var_dir} if var_dir is not None else {}),
    )
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        w = World(client=client, clock=clock, token="", url=url)
        w.token = w.token_for(None, write=True)
        yield w
    app.state.coalwatch.sessions.kw["bind"].dispose()
