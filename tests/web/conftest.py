"""Browser tests: a real center (uvicorn on a loopback port; SQLite unless a test module
overrides ``center_url``) with a seeded region, driven by Playwright through Debian's
headless Chromium.

The center's clock is injected and stands still at ``NOW`` (Sunday 2026-03-15 12:00 in
Asia/Shanghai): the history, the alarms and every figure are the same whenever the suite
runs. Any console error or uncaught exception in a page fails the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_admin
from coalwatch.config import Settings
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import CoefficientIn, MineIn, PointIn, StationIn
from coalwatch.orgs import service as orgs
from coalwatch.orgs.schemas import OrgIn
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import UserIn
from coalwatch.web.app import create_app
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign
from tests.conftest import _truncate_postgres
from tests.support.world import Clock

#: the center's time in every browser test: 12:00 local, twelve hours since midnight
NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "Coalwatch2026"
ADMIN_PASSWORD = "Admin-2026-pass"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass
class StationKey:
    code: str
    key: Any
    seq: int = 0


@dataclass
class Center:
    """A running center with the demo-like region of the browser tests."""

    base: str
    url: str
    #: the center's clock (injected): records are stamped with it
    clock: Clock = field(default_factory=lambda: Clock(NOW))
    stations: dict[str, StationKey] = field(default_factory=dict)
    totals: dict[str, Decimal] = field(default_factory=dict)

    def upload(self, station: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        st = self.stations[station]
        numbered = []
        for record in records:
            st.seq += 1
            numbered.append({"seq": st.seq, **record})
        body = encode_batch(station, self.clock(), numbered)
        answer = httpx.post(
            f"{self.base}/api/v1/stations/{station}/batches",
            content=body,
            headers={"X-Signature": sign(st.key, body), "Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        assert not result["rejected"], result
        return result

    def produce(self, station: str, point: str, tonnes: Decimal, at: datetime) -> None:
        """A belt totalizer reading ``tonnes`` more than the last one, at ``at``."""
        key = f"{station}/{point}"
        self.totals[key] = self.totals.get(key, Decimal("10000")) + tonnes
        self.upload(
            station,
            [
                {"ts": at, "type": "totalizer", "point": point, "total_t": self.totals[key]},
                {"ts": at, "type": "conveyor", "point": point, "running": True},
            ],
        )


#: (org code, name, kind, parent)
ORGS = [
    ("SX", "山西省", "province", None),
    ("JC", "晋城市", "city", "SX"),
    ("YC", "阳城县", "county", "JC"),
    ("SZ", "朔州市", "city", "SX"),
    ("YY", "右玉县", "county", "SZ"),
]
#: (mine, name, county, capacity t/a, coefficient %, station, points)
MINES = [
    ("FHS", "凤凰山煤矿", "YC", 1_200_000, "4.50", "S-FHS", ("B1",)),
    ("DP", "东坡煤矿", "YC", 600_000, "3.00", "S-DP", ("B1",)),
    ("YL", "玉龙煤矿", "YY", 900_000, "5.00", "S-YL", ("B1",)),
]
#: (username, name, number, unit, roles)
USERS = [
    ("zhangsan", "张三", "0101", "YC", ["duty_operator"]),
    ("lisi", "李四", "0102", "YC", ["third_party"]),
    ("wangwu", "王五", "0201", "YY", ["duty_operator"]),
    ("zhaoliu", "赵六", "0001", "SX", ["regulator"]),
]


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def seed(url: str, now: datetime) -> dict[str, StationKey]:
    engine = make_engine(url)
    keys: dict[str, StationKey] = {}
    try:
        with transaction(make_sessionmaker(engine)) as session:
            for code, name, kind, parent in ORGS:
                orgs.create_org(
                    session, OPERATOR, OrgIn(code=code, name=name, kind=kind, parent=parent), now
                )
            for code, name, county, capacity, percent, station, points in MINES:
                mines.create_mine(
                    session,
                    OPERATOR,
                    MineIn(code=code, name=name, org=county, annual_capacity_t=Decimal(capacity)),
                    "Asia/Shanghai",
                    now,
                )
                year = now.astimezone(SH).year
                mines.approve_coefficient(
                    session,
                    OPERATOR,
                    code,
                    CoefficientIn(
                        percent=Decimal(percent),
                        effective_from=date(year, 1, 1),
                        effective_to=date(year, 12, 31),
                    ),
                    now,
                )
                for point in points:
                    mines.create_point(
                        session,
                        OPERATOR,
                        code,
                        PointIn(code=point, name=f"主井皮带秤 {point}", kind="belt"),
                        now,
                    )
                key = generate_private_key()
                mines.register_station(
                    session,
                    OPERATOR,
                    code,
                    StationIn(code=station, public_key=public_key_b64(key)),
                    now,
                )
                keys[station] = StationKey(station, key)
            create_admin(session, "admin", ADMIN_PASSWORD, now)
            for username, name, number, unit, roles in USERS:
                users.create_user(
                    session,
                    OPERATOR,
                    UserIn(
                        username=username,
                        name=name,
                        number=number,
                        org=unit,
                        roles=roles,
                        password=PASSWORD,
                    ),
                    now,
                )
                # the tests sign in as users whose first password was already changed
                from coalwatch.users import repository

                user = repository.user_by_username(session, username)
                assert user is not None
                user.must_change_password = False
    finally:
        engine.dispose()
    return keys


def history(center: Center, now: datetime) -> None:
    """Production since local midnight: 凤凰山 near its daily capacity, 玉龙 over it (at
    ``NOW``, 12:00, twelve hourly readings after the one at 00:00:01)."""
    local_now = now.astimezone(SH)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    hours = max(1, int((local_now - midnight).total_seconds() // 3600))
    # daily capacity D = A / 330: 3636.364 t, 1818.182 t, 2727.273 t
    per_day = {"S-FHS": Decimal("3400"), "S-DP": Decimal("1100"), "S-YL": Decimal("2900")}
    for station in ("S-FHS", "S-DP", "S-YL"):
        center.produce(station, "B1", Decimal(0), midnight + timedelta(seconds=1))
        step = (per_day[station] / hours).quantize(Decimal("0.001"))
        for hour in range(1, hours + 1):
            at = min(midnight + timedelta(hours=hour), now - timedelta(seconds=5))
            tonnes = step if hour < hours else per_day[station] - step * (hours - 1)
            center.produce(station, "B1", tonnes, at)


@dataclass(frozen=True)
class Seeded:
    """The seeded region and its history, made once per worker: a SQLite file, or on
    PostgreSQL a schema holding plain copies of the tables and the sequences' values."""

    #: the file (SQLite) or the schema of the copies (PostgreSQL)
    source: str
    stations: dict[str, StationKey]
    totals: dict[str, Decimal]


#: the seeded copies handed out as ``center_url``: their stations' keys and counters
_SEEDED: dict[str, Seeded] = {}


@contextmanager
def running_center(url: str, var_dir: Path, clock: Clock) -> Iterator[str]:
    """A center on a loopback port over ``url`` until the block ends; yields its base URL."""
    settings = Settings(
        database_url=url,
        timezone="Asia/Shanghai",
        jobs=False,
        secret_key="browser-test-session-key",
        var_dir=var_dir,
    )
    app = create_app(settings, clock=clock)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the center did not start"
        assert thread.is_alive(), "the center stopped at start-up"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _seed_with_history(url: str, var_dir: Path) -> tuple[dict[str, StationKey], dict[str, Decimal]]:
    """The region seeded and its morning produced (a center and 39 uploads) in ``url``."""
    keys = seed(url, NOW)
    clock = Clock(NOW)
    with running_center(url, var_dir, clock) as base:
        live = Center(base=base, url=url, clock=clock, stations=keys)
        history(live, NOW)
    return keys, dict(live.totals)


@pytest.fixture(scope="session")
def seeded_sqlite(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The seeded region made once; each test's center runs on a copy of the file."""
    folder = tmp_path_factory.mktemp("seeded")
    path = folder / "coalwatch.db"
    shutil.copy(sqlite_template, path)
    keys, totals = _seed_with_history(f"sqlite:///{path}", folder)
    # the copies must hold everything: move the write-ahead log into the file
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert not busy, "the seeded database is still in use"
    return Seeded(source=str(path), stations=keys, totals=totals)


#: the worker's schema as it is now, copied into the schema named ``:snapshot``: each table
#: (its rows only; a partitioned table once, with its partitions' rows) and the sequences'
#: last values
_SNAPSHOT = """
DO $$
DECLARE item record;
BEGIN
    EXECUTE format('CREATE SCHEMA %I', :snapshot);
    FOR item IN SELECT relname AS tablename FROM pg_class
        WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
            AND NOT relispartition AND relname <> 'alembic_version' LOOP
        EXECUTE format('CREATE TABLE %I.%I AS TABLE %I', :snapshot, item.tablename, item.tablename);
    END LOOP;
    EXECUTE format(
        'CREATE TABLE %I._sequences AS SELECT sequencename, last_value FROM pg_sequences '
        'WHERE schemaname = current_schema()', :snapshot);
END $$
"""

#: the rows and sequences of the snapshot ``:snapshot`` put back into an emptied schema, on
#: the server (foreign keys are checked when the snapshot is taken, not again)
_RESTORE = """
DO $$
DECLARE item record;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR item IN SELECT tablename FROM pg_tables
        WHERE schemaname = :snapshot AND tablename <> '_sequences' LOOP
        EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM %I.%I',
            item.tablename, :snapshot, item.tablename);
    END LOOP;
    FOR item IN EXECUTE format('SELECT sequencename, last_value FROM %I._sequences', :snapshot)
    LOOP
        IF item.last_value IS NOT NULL THEN
            PERFORM setval(quote_ident(item.sequencename), item.last_value, true);
        END IF;
    END LOOP;
END $$
"""


_DROP = "DO $$ BEGIN EXECUTE format('DROP SCHEMA %I CASCADE', :snapshot); END $$"


def _run_block(url: str, block: str, snapshot: str) -> None:
    # a DO block takes no parameters: the snapshot's name is ours, made of [a-z0-9_]
    assert snapshot.replace("_", "").isalnum(), snapshot
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(block.replace(":snapshot", f"'{snapshot}'")))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def seeded_postgres(
    postgres_schema: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """The seeded region made once in the worker's schema and kept as a snapshot beside it;
    each test's schema is emptied and filled from the snapshot (``copy_seeded_postgres``)."""
    _truncate_postgres(postgres_schema)
    keys, totals = _seed_with_history(postgres_schema, tmp_path_factory.mktemp("seeded-pg"))
    engine = make_engine(postgres_schema)
    with engine.connect() as connection:
        snapshot = f"{connection.scalar(text('SELECT current_schema()'))}_seeded"
    engine.dispose()
    _run_block(postgres_schema, _SNAPSHOT, snapshot)
    yield Seeded(source=snapshot, stations=keys, totals=totals)
    _run_block(postgres_schema, _DROP, snapshot)


def copy_seeded_postgres(url: str, seeded: Seeded) -> str:
    """``url``, the worker's schema, emptied and holding the seeded region again."""
    _truncate_postgres(url)
    _run_block(url, _RESTORE, seeded.source)
    _SEEDED[url] = seeded
    return url


@pytest.fixture
def center_url(seeded_sqlite: Seeded, tmp_path: Path) -> str:
    """The center's database: a copy of the seeded SQLite file (a module overrides this to
    run on PostgreSQL, with ``copy_seeded_postgres``)."""
    path = tmp_path / "coalwatch.db"
    shutil.copy(seeded_sqlite.source, path)
    url = f"sqlite:///{path}"
    _SEEDED[url] = seeded_sqlite
    return url


@pytest.fixture
def center(center_url: str, tmp_path: Path) -> Iterator[Center]:
    clock = Clock(NOW)
    seeded = _SEEDED.pop(center_url)
    keys = {code: replace(key) for code, key in seeded.stations.items()}
    with running_center(center_url, tmp_path, clock) as base:
        live = Center(base=base, url=center_url, clock=clock, stations=keys)
        live.totals = dict(seeded.totals)
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module: Playwright's sync API keeps an event loop running while it
    is started, so it must not outlive the module (later cases call ``asyncio.run``)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Console:
    errors: list[str] = field(default_factory=list)
    #: error texts a test provokes on purpose (a refused request logs one)
    allowed: list[str] = field(default_factory=list)

    def allow(self, *texts: str) -> None:
        self.allowed.extend(texts)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def new_page(browser: Any, center: Center, console: Console) -> Iterator[Any]:
    """Open pages in fresh browser contexts; every console error fails the test."""
    contexts: list[Any] = []

    def open_page(width: int = 1600, height: int = 1000) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN", base_url=center.base
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda message: (
                console.errors.append(f"{page.url}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: console.errors.append(f"{page.url}: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert console.unexpected() == [], "console errors:\n" + "\n".join(console.unexpected())


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_load_state("networkidle")


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session", autouse=True)
def _clean_screenshots() -> None:
    if SHOTS.exists():
        shutil.rmtree(SHOTS, ignore_errors=True)  # the other xdist worker may be writing
