"""``coalwatch demo``: the center on SQLite with a demo region and stand-in stations.

Start-up: a fresh ``var/demo.db``, the migrations, the region, an administrator
and a write token, then history from the first day of last month through the
real ingest path (coarser readings for the older days, minute by minute for the
last ones), with the older alarms acknowledged and handled. Then the center
serves HTTP while one stand-in station per mine uploads new readings every 5 s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from types import FrameType
from urllib.parse import quote
from zoneinfo import ZoneInfo

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.alarms import service as alarm_service
from coalwatch.alarms.schemas import HandleIn
from coalwatch.auth.principal import OPERATOR
from coalwatch.auth.service import create_admin, create_token
from coalwatch.config import Settings
from coalwatch.demo.cameras import camera_lines, demo_video_settings, start_cameras, stop_cameras
from coalwatch.demo.history import StandInStation
from coalwatch.demo.live import LiveMine, start_live
from coalwatch.demo.region import (
    COMPANY,
    COUNTY,
    MineSpec,
    plan_mines,
    seed_region,
    stand_in_station,
)
from coalwatch.errors import CoalwatchError, Invalid
from coalwatch.ingest.service import IngestLimits, ingest_batch
from coalwatch.storage import migrate
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.web.app import create_app

log = logging.getLogger("coalwatch.demo")

DEMO_DB = "demo.db"
CREDENTIALS = "demo-credentials.txt"
ADMIN = "admin"
BACKFILL_STEP = timedelta(minutes=1)
#: records per backfill upload (the center's limit, max_batch_records, may be lower)
BACKFILL_BATCH = 5_000
DUTY_OFFICER = "值班员"
HEARTBEAT = timedelta(seconds=30)
#: instants of history to read at most (mines × readings), half of them minute by minute:
#: ingest with its alarm rules takes ~0.1 ms a record, so start-up stays short on 2 cores
BACKFILL_SAMPLES = 40_000
#: the steps of the older history, finest first (each divides an hour, so an hour's
#: production is the readings inside it)
COARSE_STEPS_MIN = (15, 20, 30, 60)
#: the history is read minute by minute since midnight, or for this many hours at least
FINE_HOURS = 6

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Demo:
    """A prepared demo: its database, its mines and stations, and the credentials."""

    settings: Settings
    mines: list[MineSpec]
    stations: list[StandInStation]
    admin_password: str
    token: str
    backfill_from: datetime
    records: int


def demo_database(settings: Settings) -> Path:
    return settings.var_dir / DEMO_DB


def _refuse_configured_database(settings: Settings) -> None:
    # The demo deletes and recreates its database: never one that was configured.
    if settings.database_url:
        raise Invalid(
            "the demo recreates its own SQLite database (var/demo.db) at each start and will "
            "not use COALWATCH_DATABASE_URL; unset it to run the demo"
        )


def backfill_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight where history starts: the first day of last month, so that month
    and year charts and the period reports have a full month and the current one."""
    first = now.astimezone(tz).date().replace(day=1)
    return datetime.combine((first - timedelta(days=1)).replace(day=1), clock_time(), tz)


@dataclass(frozen=True)
class Sampling:
    """How finely the history is read: every ``coarse`` minutes up to ``fine_from``, then
    every minute. Production is exact either way (a reading carries everything since the
    one before); the last hours are read like the live feed, for the detailed charts."""

    coarse: timedelta
    fine_from: datetime


def backfill_sampling(start: datetime, now: datetime, tz: ZoneInfo, mines: int) -> Sampling:
    """The finest sampling that keeps the history within ``BACKFILL_SAMPLES``: minutes
    since today's midnight or the last ``FINE_HOURS`` (fewer for many mines), and the
    finest step that still divides an hour before that."""
    budget = BACKFILL_SAMPLES // 2 // mines
    midnight = datetime.combine(now.astimezone(tz).date(), clock_time(), tz)
    recent = _whole_hour(now - timedelta(hours=FINE_HOURS), tz)
    fine_from = max(start, min(midnight, recent), _whole_hour(now - timedelta(minutes=budget), tz))
    hours = max((fine_from - start) / timedelta(hours=1), 1.0)
    coarse = next((m for m in COARSE_STEPS_MIN if hours * 60 / m <= budget), COARSE_STEPS_MIN[-1])
    return Sampling(timedelta(minutes=coarse), fine_from)


def _whole_hour(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz).replace(minute=0, second=0, microsecond=0)


def prepare_demo(
    settings: Settings,
    mines: int,
    *,
    clock: Clock = _system_clock,
    backfill_from: datetime | None = None,
    stop: threading.Event | None = None,
) -> Demo:
    """Recreate the demo database, seed the region and ingest the history."""
    specs = plan_mines(mines)
    _refuse_configured_database(settings)
    path = demo_database(settings)
    for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    url = f"sqlite:///{path.as_posix()}"
    demo_settings = settings.model_copy(update={"database_url": url})
    tz = demo_settings.tz
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        sessions = make_sessionmaker(engine)
        now = clock()
        password = secrets.token_urlsafe(12)
        with transaction(sessions) as session:
            keys = seed_region(session, specs, now, tz)
            create_admin(session, ADMIN, password, now)
            token = create_token(session, "demo", None, True, now)
        start = backfill_from or backfill_start(now, tz)
        sampling = backfill_sampling(start, now, tz, mines)
        log.info(
            "demo region seeded; ingesting %d mines' history since %s (every %d min until %s)",
            mines,
            start.isoformat(),
            sampling.coarse // timedelta(minutes=1),
            sampling.fine_from.isoformat(),
        )
        stations = [
            stand_in_station(spec, keys[spec.code], tz, start, sampling.coarse) for spec in specs
        ]
        limits = IngestLimits.of(settings)
        records = backfill(sessions, stations, clock, limits, stop or threading.Event(), sampling)
        with transaction(sessions) as session:
            settle_old_alarms(session, now)
    finally:
        engine.dispose()
    for station in stations:
        station.heartbeat_every = HEARTBEAT
    return Demo(demo_settings, specs, stations, password, token, start, records)


def backfill(
    sessions: sessionmaker[Session],
    stations: list[StandInStation],
    clock: Clock,
    limits: IngestLimits,
    stop: threading.Event,
    sampling: Sampling,
) -> int:
    """Each station's readings up to now (every ``sampling.coarse`` until
    ``sampling.fine_from``, then every minute), ingested in signed batches as large as
    the center takes."""
    records = 0
    batch = min(BACKFILL_BATCH, limits.max_records)
    for station in stations:
        while not stop.is_set():
            if station.last_ts is not None and station.last_ts < sampling.fine_from:
                station.sample_until(sampling.fine_from, sampling.coarse, limit=batch)
            else:
                station.sample_until(clock(), BACKFILL_STEP, limit=batch)
            upload = station.next_upload(clock(), batch)
            if upload is None:
                break
            waiting = len(station.pending)
            with transaction(sessions) as session:
                answer = ingest_batch(session, station.code, *upload, clock(), limits)
            station.on_answer(answer.model_dump())
            if len(station.pending) >= waiting:
                raise CoalwatchError(f"the center took none of station {station.code}'s records")
            records += waiting - len(station.pending)
    return records


#: what the demo's duty officer 值班员 wrote when handling the older alarms
HANDLED_RESULT = "已核实：当班超能力组织生产，已责令整改并上报"
#: the newest alarms of the history are left for the demo's user to acknowledge
WAITING_ALARMS = 4


def settle_old_alarms(session: Session, now: datetime) -> tuple[int, int]:
    """The history's alarms as a duty officer would have left them: the newest few
    waiting to be acknowledged, the others of their day acknowledged, the older ones
    handled (closed once ended). Returns (handled, acknowledged)."""
    alarm_service.end_expired(session, now)  # what the timed rules will do first
    officer = replace(OPERATOR, name=DUTY_OFFICER)
    alarms = alarm_service.list_alarms(session, officer, state="active")  # newest first
    if not alarms:
        return 0, 0
    recent = alarms[0].start - timedelta(days=1)
    handled = acknowledged = 0
    for alarm in alarms[WAITING_ALARMS:]:
        seen = alarm.end or alarm.start
        alarm_service.acknowledge(session, officer, alarm.id, seen)
        acknowledged += 1
        if alarm.start < recent:
            result = HandleIn(result=HANDLED_RESULT)
            alarm_service.handle(session, officer, alarm.id, result, seen)
            handled += 1
    return handled, acknowledged - handled


class _Server(uvicorn.Server):
    """Uvicorn that stops when told to, and stops the stations before it closes."""

    def __init__(
        self, config: uvicorn.Config, stop: threading.Event, before_shutdown: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self.stop = stop
        self.before_shutdown = before_shutdown

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stop.set()
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.stop.is_set():
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # The stations go first, while the center still answers their last uploads;
        # stopped after it, they would log refused connections.
        await asyncio.to_thread(self.before_shutdown)
        await super().shutdown(sockets)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the slow start-up so a busy port fails at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise CoalwatchError(
            f"cannot listen on {host}:{port} ({os.strerror(exc.errno) if exc.errno else exc}); "
            "choose another port with --port",
            code="port_unavailable",
        ) from exc


def _local_host(host: str) -> str:
    """Where this machine reaches the center (a wildcard address is not one)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def run_demo(settings: Settings, port: int, mines: int, host: str = "127.0.0.1") -> None:
    """Prepare the demo, then serve it until Ctrl-C or SIGTERM."""
    begun = time.monotonic()
    logging.getLogger("pymodbus").setLevel(logging.WARNING)  # the simulators' chatter
    plan_mines(mines)  # refuse a bad --mines before any work
    _refuse_configured_database(settings)
    stop = threading.Event()

    def request_stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    # Until uvicorn runs (and again after: it re-raises the signal that stopped
    # it), a signal only asks the demo to stop, so no KeyboardInterrupt escapes.
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _listen(host, port) as listener:
            port = listener.getsockname()[1]
            log.info("preparing the demo in %s", demo_database(settings))
            demo = prepare_demo(settings, mines, stop=stop)
            if not stop.is_set():
                log.info(
                    "history from %s: %d records ingested; start-up took %.1f s",
                    demo.backfill_from.isoformat(),
                    demo.records,
                    time.monotonic() - begun,
                )
                _serve(demo, listener, host, port, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
    print("演示已停止 / demo stopped", flush=True)


def _serve(
    demo: Demo, listener: socket.socket, host: str, port: int, stop: threading.Event
) -> None:
    settings = demo_video_settings(demo.settings)
    cameras = start_cameras(settings, demo.mines, _system_clock())
    app = create_app(settings)
    live: list[LiveMine] = []

    def stop_stations() -> None:
        for mine in live:
            mine.stop()

    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False),
        stop,
        stop_stations,
    )
    base = f"http://{_local_host(host)}:{port}"
    try:
        for index, (spec, history) in enumerate(zip(demo.mines, demo.stations, strict=True)):
            live.append(start_live(spec, history, base, demo.settings.var_dir / "stations", index))
    except BaseException:
        stop_stations()
        stop_cameras(cameras)
        raise
    text = credentials_text(demo, base)
    text += (
        f"\n模拟摄像机 simulated cameras (fault=down|black|frozen|none):\n{camera_lines(cameras)}\n"
    )
    path = demo.settings.var_dir / CREDENTIALS
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    print(banner(text, path), flush=True)
    try:
        server.run(sockets=[listener])
    finally:
        stop.set()
        stop_stations()  # when the server did not get as far as its shutdown
        stop_cameras(cameras)


def credentials_text(demo: Demo, base: str, now: datetime | None = None) -> str:
    """What a new user needs: where, who, a token and two requests to paste (the second
    for last month, the first full month of the history)."""
    tz = demo.settings.tz
    today = (now or _system_clock()).astimezone(tz).date()
    this_month = datetime.combine(today.replace(day=1), clock_time(), tz)
    last_month = backfill_start(this_month, tz)
    query = "period=day&from={}&to={}".format(
        quote(last_month.isoformat(), safe=":"), quote(this_month.isoformat(), safe=":")
    )
    mine = demo.mines[0]
    mine_list = "\n".join(_describe(m) for m in demo.mines[:10])
    if len(demo.mines) > 10:
        mine_list += f"\n  ... ({len(demo.mines)} 座 / mines)"
    return f"""\
地址 URL:            {base}/
API 文档 API docs:   {base}/api/v1/docs
管理员 admin login:  {ADMIN} / {demo.admin_password}
写令牌 write token:  {demo.token}   (全部单位 / whole tree)

演示区域 demo region: 山西省 › 长治市 › {COUNTY.name} {COUNTY.code} › {COMPANY.name}
{mine_list}

试一试 / try:
  export TOKEN={demo.token}
  curl -H "Authorization: Bearer $TOKEN" {base}/api/v1/mines/{mine.code}/summary
  # 上月每日产量 / last month, day by day ({last_month:%Y-%m}):
  curl -H "Authorization: Bearer $TOKEN" "{base}/api/v1/orgs/{COUNTY.code}/production?{query}"
"""


def _describe(mine: MineSpec) -> str:
    text = (
        f"  {mine.code}  {mine.name}  核定能力 {mine.annual_capacity_t:,} t/a"
        f"  折算系数 {mine.coefficient_percent} %  皮带秤"
    )
    if mine.has_skip:
        text += " + 箕斗"
    if mine.plan_month_t is not None:
        text += f"  本月计划 {mine.plan_month_t:,} t"
    return text


def banner(text: str, saved: Path) -> str:
    rule = "=" * 78
    return f"""{rule}
煤炭产量监控中心 演示已启动 / coalwatch demo center is running
{rule}
{text}
已保存到 / saved to: {saved}
按 Ctrl-C 停止 / press Ctrl-C to stop
{rule}"""
