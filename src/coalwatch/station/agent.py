"""The station agent 主站: poll, store, forward, obey the center, report status.

Four loops on one asyncio event loop: the poll loop (every device of every
point each interval, records and state into the outbox in one transaction per
cycle), the heartbeat, the uploader, and a status line every minute. SIGINT
and SIGTERM stop it cleanly; a SIGKILL loses nothing either (see ``outbox``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from coalwatch.station.bus import Bus
from coalwatch.station.config import Maps, StationConfig, load_config
from coalwatch.station.mqtt_uploader import MqttTransport
from coalwatch.station.outbox import Outbox, OutboxFull
from coalwatch.station.poller import DevicePoller, DeviceState, Outcome, Record
from coalwatch.station.remote_config import RemoteConfig, running_fingerprint
from coalwatch.station.signal import TYPES_KEY, SignalOutputs
from coalwatch.station.uploader import (
    Backoff,
    HttpTransport,
    Transport,
    Uploader,
    tls_context,
)
from coalwatch.wire.batches import BatchAnswer
from coalwatch.wire.signing import load_private_key_pem

log = logging.getLogger("coalwatch.station")

POLL_INTERVAL_KEY = "poll_interval_s"
STATUS_EVERY_S = 60.0
#: a time check is answered with a heartbeat at most this often (the center may repeat it)
TIME_CHECK_EVERY_S = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def resolve(base: Path, path: Path) -> Path:
    """A path from the config file: relative paths are relative to the file's directory."""
    return path if path.is_absolute() else base / path


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        return load_private_key_pem(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read the station key {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ValueError(f"{path} is not an Ed25519 private key (PEM): {exc}") from exc


@dataclass
class CycleStats:
    cycles: int = 0
    device_polls: int = 0
    records: int = 0
    slow_logged: bool = False


class Agent:
    """One station: its buses, device pollers, outbox and uploader."""

    def __init__(
        self,
        config: StationConfig,
        maps: Maps,
        key: Ed25519PrivateKey,
        outbox: Outbox,
        *,
        clock: Callable[[], datetime] = utc_now,
        transport: Transport | None = None,
        remote: RemoteConfig | None = None,
    ) -> None:
        section = config.station
        self.outbox = outbox
        self.clock = clock
        self.remote = remote
        #: a poll cycle and a change of configuration never overlap
        self.cycle_lock = asyncio.Lock()
        self.config_wanted = asyncio.Event()
        self._equip(config, maps)
        stored_interval = outbox.state(POLL_INTERVAL_KEY)
        self.poll_interval_s = float(stored_interval or section.poll_interval_s)
        self.heartbeat_s = section.heartbeat_s
        self.wake = asyncio.Event()
        self.stop = asyncio.Event()
        self.stats = CycleStats()
        self._last_time_check = -TIME_CHECK_EVERY_S
        #: since when the outbox cannot store records (disk full), and the writes refused
        self._full_since: datetime | None = None
        self._full_refused = 0
        self._unknown_commands: set[str] = set()
        self.uploader = Uploader(
            outbox,
            section.code,
            key,
            section.upload_targets,
            batch_size=section.batch_size,
            transport=transport or HttpTransport(section.request_timeout_s),
            backoff=Backoff(section.retry_first_s, section.retry_max_s),
            on_commands=self.handle_commands,
            on_answer=self.handle_answer,
            clock=clock,
        )
        self.report_moved_outbox()

    def _equip(self, config: StationConfig, maps: Maps) -> None:
        """Buses, device pollers and warning outputs of a configuration (with the
        state the outbox kept of each)."""
        self.config = config
        self.config_fingerprint = running_fingerprint(config, maps)
        self.buses = {name: Bus(name, spec) for name, spec in config.buses.items()}
        self.pollers: list[DevicePoller] = []
        saved = self.outbox.states("device:")
        for point in config.points:
            for index, device in enumerate(point.devices):
                poller = DevicePoller(
                    point.code,
                    index,
                    device.unit,
                    maps[(point.code, index)],
                    self.buses[device.bus],
                    config.station.fault_after,
                )
                poller.adopt(DeviceState.from_json(saved.get(poller.key)))
                self.pollers.append(poller)
        saved_signals = self.outbox.states("signal:")
        saved_signals[TYPES_KEY] = self.outbox.state(TYPES_KEY)
        self.signals = SignalOutputs(config.points, self.buses, saved_signals)

    async def reconfigure(self, config: StationConfig, maps: Maps, why: str) -> None:
        """Run another configuration from the next poll cycle on."""
        async with self.cycle_lock:
            for bus in self.buses.values():
                bus.close()
            old = self.config_fingerprint
            self._equip(config, maps)
        log.warning(
            "configuration %s… → %s… (%s): %d devices on %d buses",
            old[:12],
            self.config_fingerprint[:12],
            why,
            len(self.pollers),
            len(self.buses),
        )

    # -- records ---------------------------------------------------------------------------

    def emit(self, records: list[Record], state: dict[str, Any] | None = None) -> list[int]:
        """Into the outbox (on disk when this returns), then wake the uploader.

        Raises OutboxFull when the disk is full (logged once); the first write
        that succeeds afterwards carries a fault record saying so.
        """
        if self._full_since is not None:
            records = [*self._full_records(), *records]
        try:
            seqs = self.outbox.append(records, state)
        except OutboxFull as exc:
            if self._full_since is None:
                self._full_since = self.clock()
                log.error("the outbox cannot store records (disk full?): %s; will retry", exc)
            self._full_refused += 1
            raise
        if self._full_since is not None:
            log.warning("the outbox stores records again (%d writes refused)", self._full_refused)
            self._full_since = None
            self._full_refused = 0
        self.stats.records += len(seqs)
        log_events(records, seqs)
        if seqs:
            self.wake.set()
        return seqs

    def _full_records(self) -> list[Record]:
        """The outbox fault, for the center: from when the disk was full to now."""
        assert self._full_since is not None
        detail = (
            f"station outbox full from {self._full_since.isoformat()}: "
            f"{self._full_refused} writes (poll cycles, heartbeats) could not be stored"
        )
        now = self.clock().isoformat()
        return [
            {
                "ts": self._full_since.isoformat(),
                "type": "event",
                "event": "device_fault",
                "detail": detail,
            },
            {"ts": now, "type": "event", "event": "device_ok", "detail": "station outbox writable"},
        ]

    def report_moved_outbox(self) -> None:
        """A corrupt outbox was moved aside: say so to the center (and in the log)."""
        moved = self.outbox.moved_aside
        if moved is None:
            return
        detail = (
            f"station outbox {self.outbox.path} was corrupt: moved aside to {moved.name}; "
            "records it held that the center had not acknowledged may be lost"
        )
        log.error("%s", detail)
        now = self.clock().isoformat()
        self.emit(
            [
                {"ts": now, "type": "event", "event": "device_fault", "detail": detail},
                {"ts": now, "type": "event", "event": "device_ok", "detail": "new station outbox"},
            ]
        )

    def heartbeat(self, **extra: Any) -> None:
        record = {"ts": self.clock().isoformat(), "type": "heartbeat"}
        self.emit([{**record, "config": self.config_fingerprint, **extra}])

    async def poll_cycle(self) -> int:
        """Poll every device once; store what they said in one transaction; then switch
        the warning outputs as the center (or, with the center away, what was seen) wants.

        Everything read in one cycle is dated with the cycle's one instant: the devices
        of a point (an integrator and the conveyor's I/O module) then tell the same
        moment, whatever order they answer in."""
        now = self.clock()

        def cycle_clock() -> datetime:
            return now

        outcomes: list[Outcome | BaseException] = await asyncio.gather(
            *(poller.poll(cycle_clock) for poller in self.pollers), return_exceptions=True
        )
        records: list[Record] = []
        state: dict[str, Any] = {}
        adopted: list[tuple[DevicePoller, DeviceState]] = []
        for poller, outcome in zip(self.pollers, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                # a bug in decoding one device must not stop the others
                log.error("%s: poll raised %r", poller.describe(), outcome, exc_info=outcome)
                continue
            records.extend(outcome.records)
            if outcome.state is not None:
                state[poller.key] = outcome.state.to_json()
                adopted.append((poller, outcome.state))
        if records or state:
            seqs = self.emit(records, state)
            away = self.uploader.failed_rounds > 0 or self.uploader.sent_batches == 0
            self.signals.observe(records, seqs[len(seqs) - len(records) :], away)
        # only now, with records and state on disk, does the poller move on
        for poller, new_state in adopted:
            poller.adopt(new_state)
        switched, signal_state = await self.signals.sync(self.clock)
        if switched or signal_state:
            self.emit(switched, signal_state)
        self.stats.cycles += 1
        self.stats.device_polls += len(self.pollers)
        return len(records)

    # -- commands from the center -----------------------------------------------------------

    def handle_answer(self, answer: BatchAnswer) -> None:
        """The optional parts of an upload answer: warning outputs, the configuration."""
        if answer.signals is not None:
            state = self.signals.from_center(answer.signals, answer.acked_seq)
            if state:
                self.outbox.set_state(state)
        notice = answer.config
        if notice is not None and notice.fingerprint != self.config_fingerprint:
            if self.remote is None:
                if not self._unknown_commands & {"config"}:
                    self._unknown_commands.add("config")
                    log.warning(
                        "the center issued configuration v%d; this station runs its file "
                        "(set [station] center_key to take it)",
                        notice.version,
                    )
            else:
                self.config_wanted.set()

    async def take_center_config(self, at_start: bool = False) -> bool:
        """Fetch the center's configuration and run it (at start: the kept one when no
        center answers); False when there is none to take."""
        if self.remote is None:
            return False
        loop = asyncio.get_running_loop()
        taken = await loop.run_in_executor(
            None, self.remote.fetch, self.uploader.transport.post, self.config_fingerprint
        )
        why = "issued by the center"
        if taken is None and at_start:
            taken, why = self.remote.cached(), "kept from the center's last issue"
        if taken is None:
            return False
        config, maps, fingerprint, version = taken
        if fingerprint != self.config_fingerprint:
            await self.reconfigure(config, maps, f"v{version} {why}")
        return True

    def handle_commands(self, commands: list[dict[str, Any]]) -> None:
        for command in commands:
            kind = command.get("type")
            try:
                if kind == "set_poll_interval":
                    self._set_poll_interval(command)
                elif kind == "time_check":
                    self._time_check(command)
                elif str(kind) not in self._unknown_commands:
                    self._unknown_commands.add(str(kind))
                    log.warning("unknown command from the center ignored: %s", command)
            except (TypeError, ValueError) as exc:
                log.warning("bad command from the center %s: %s", command, exc)

    def _set_poll_interval(self, command: dict[str, Any]) -> None:
        seconds = float(command["seconds"])
        if not 1 <= seconds <= 10:
            raise ValueError("the poll interval must be 1–10 s")
        if seconds != self.poll_interval_s:
            log.info("poll interval %g s → %g s (center's command)", self.poll_interval_s, seconds)
            self.poll_interval_s = seconds
            self.outbox.set_state({POLL_INTERVAL_KEY: seconds})

    def _time_check(self, command: dict[str, Any]) -> None:
        center_time = datetime.fromisoformat(str(command["center_time"]))
        if center_time.tzinfo is None:
            raise ValueError("center_time has no UTC offset")
        if time.monotonic() - self._last_time_check < TIME_CHECK_EVERY_S:
            return
        self._last_time_check = time.monotonic()
        station_time = self.clock()
        offset = (station_time - center_time).total_seconds()
        log.warning("time check: the station's clock is %+.1f s off the center's", offset)
        self.heartbeat(station_time=station_time.isoformat(), center_time=center_time.isoformat())

    # -- loops -------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            started = loop.time()
            try:
                async with self.cycle_lock:  # the configuration changes between cycles
                    await self.poll_cycle()
            except OutboxFull:
                pass  # logged once by emit; the devices' state stays, nothing is skipped
            except Exception:
                # the outbox itself failed (disk full?): say so, keep trying
                log.exception("poll cycle failed")
            took = loop.time() - started
            if took > self.poll_interval_s and not self.stats.slow_logged:
                self.stats.slow_logged = True
                log.warning(
                    "a poll cycle took %.1f s, longer than the %g s interval",
                    took,
                    self.poll_interval_s,
                )
            await _sleep(self.stop, max(0.0, self.poll_interval_s - took))

    async def _config_loop(self) -> None:
        while not self.stop.is_set():
            await _wait_either(self.stop, self.config_wanted)
            if self.stop.is_set():
                return
            self.config_wanted.clear()
            try:
                await self.take_center_config()
            except Exception:
                log.exception("taking the center's configuration failed")
            await _sleep(self.stop, self.heartbeat_s)  # a refused one is not fetched in a loop

    async def _heartbeat_loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.heartbeat()
            except OutboxFull:
                pass  # logged once by emit
            except Exception:
                log.exception("heartbeat failed")
            await _sleep(self.stop, self.heartbeat_s)

    def status_line(self) -> str:
        stats = self.outbox.stats()
        age = stats.oldest_age_s(self.clock())
        return (
            f"outbox {stats.records} records ({stats.file_bytes / 1e6:.1f} MB), oldest "
            f"{'-' if age is None else f'{age:.0f} s'}, last seq {stats.last_seq}, acked "
            f"{stats.acked_seq}, center {self.uploader.center}, "
            f"{self.stats.device_polls} device polls, poll interval {self.poll_interval_s:g} s"
        )

    async def _status_loop(self) -> None:
        while not self.stop.is_set():
            await _sleep(self.stop, STATUS_EVERY_S)
            if not self.stop.is_set():
                log.info("status: %s", self.status_line())

    async def run(self) -> None:
        """Until ``stop`` is set; then close buses, uploader and outbox."""
        log.info(
            "station %s: %d devices on %d buses, %s; outbox %s (%s)",
            self.config.station.code,
            len(self.pollers),
            len(self.buses),
            ", ".join(self.config.station.centers),
            self.outbox.path,
            self.status_line(),
        )
        if self.remote is not None:
            await self.take_center_config(at_start=True)
        tasks = [
            asyncio.create_task(self._config_loop(), name="config"),
            asyncio.create_task(self._poll_loop(), name="poll"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self.uploader.run(self.stop, self.wake), name="upload"),
            asyncio.create_task(self._status_loop(), name="status"),
        ]
        try:
            await self.stop.wait()
        finally:
            self.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for bus in self.buses.values():
                bus.close()
            self.uploader.close()
            log.info("station stopped: %s", self.status_line())


def log_events(records: list[Record], seqs: list[int]) -> None:
    """One INFO line per event the station stores for the center (door, mains, parameters,
    resets, faults), when it is stored: once, not once per poll."""
    for record, seq in zip(records, seqs, strict=False):
        if record.get("type") != "event":
            continue
        point = record.get("point")
        detail = record.get("detail")
        log.info(
            "event %s%s at %s (seq %d)%s",
            record.get("event"),
            f" point {point}" if point else "",
            record.get("ts"),
            seq,
            f": {detail}" if detail else "",
        )


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_either(stop: asyncio.Event, event: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(event.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def run_station(config_path: Path) -> None:
    """``coalwatch station run``: the agent until SIGINT or SIGTERM."""
    config, maps = load_config(config_path)
    base = config_path.parent
    key = load_key(resolve(base, config.station.key_file))
    # the agent logs a failure once and the recovery once; pymodbus would log every retry
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    outbox = Outbox(resolve(base, config.station.outbox))
    try:
        ca_file = config.station.ca_file
        context = tls_context(None if ca_file is None else resolve(base, ca_file))
        transport: Transport = HttpTransport(config.station.request_timeout_s, context)
        if config.station.transport == "mqtt" and config.station.mqtt_broker is not None:
            transport = MqttTransport(
                config.station.mqtt_broker,
                config.station.code,
                config.station.mqtt_topic_prefix,
                config.station.request_timeout_s,
            )
        remote = None
        if config.station.center_key is not None:
            cache = resolve(base, config.station.config_cache)
            remote = RemoteConfig(config, key, cache, utc_now)
        agent = Agent(config, maps, key, outbox, transport=transport, remote=remote)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, agent.stop.set)
        try:
            await agent.run()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    finally:
        outbox.close()
