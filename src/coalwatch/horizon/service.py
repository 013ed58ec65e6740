"""A backlog is not silence: the ingest horizon 接收水位.

The silence rules (``comm_interruption`` 通信中断, ``no_data_while_running``) count from
when the center last heard a station, and a batch is heard when it is committed. Under
load, a station's upload may wait in the center (for a worker, for a connection, for
its turn to commit) while the station is connected and doing all it should; it sends
nothing else meanwhile (one batch in flight at a time). So what the rules really need
is the moment up to which the center has heard everything that reached it: a station's
silence can only be judged up to there.

Each center process notes when every station upload arrives, before anything else is
done with it (``ArrivalsMiddleware``: before the body is read, the signature checked or
a connection taken), and when it is answered. While its oldest unanswered upload has
waited more than ``LAG``, the process writes that arrival (``ingest_horizons``) every
``REPORT_S``; caught up, it deletes its row. The timed rules, in whichever process runs
them, judge silence at ``heard_until``: now, or the earliest arrival still waiting in a
live process, whichever is earlier. A process that died leaves a row no longer renewed;
after ``STALE`` it counts no more.

Why a horizon and not a "heard" time per station written on arrival: it costs nothing
while the center keeps up (no write at all) and one row per lagging process, not one
per upload; and an upload that has not been verified yet (anyone can send bytes to a
station's URL) proves nothing about that station: it only holds the judgement back
while it waits, for every station alike, and a forged one is refused in milliseconds.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from coalwatch.horizon import repository
from coalwatch.jobs.leader import node_name
from coalwatch.storage.session import transaction

log = logging.getLogger("coalwatch.horizon")

#: an upload waiting longer than this means the process lags
LAG = timedelta(seconds=1)
#: how often a lagging process writes its horizon
REPORT_S = 1.0
#: a horizon not renewed for this long is of a process gone
STALE = timedelta(seconds=10)

_UPLOAD = re.compile(r"^/api/v1/stations/[^/]+/batches$")


class Arrivals:
    """The station uploads of this process not answered yet, by arrival (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, datetime] = {}
        self._ids = itertools.count()

    def arrive(self, at: datetime) -> int:
        ticket = next(self._ids)
        with self._lock:
            self._waiting[ticket] = at
        return ticket

    def leave(self, ticket: int) -> None:
        with self._lock:
            self._waiting.pop(ticket, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def oldest(self) -> datetime | None:
        with self._lock:
            return min(self._waiting.values(), default=None)


class ArrivalsMiddleware:
    """Notes each station upload in ``arrivals`` from its arrival to its answer."""

    def __init__(self, app: ASGIApp, arrivals: Arrivals, clock: Callable[[], datetime]) -> None:
        self.app, self.arrivals, self.clock = app, arrivals, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _UPLOAD.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        ticket = self.arrivals.arrive(self.clock())
        try:
            await self.app(scope, receive, send)
        finally:
            self.arrivals.leave(ticket)


def waiting_since(arrivals: Arrivals, now: datetime) -> datetime | None:
    """The arrival of the oldest upload waiting, if it waits longer than ``LAG``."""
    oldest = arrivals.oldest()
    return oldest if oldest is not None and now - oldest >= LAG else None


def report(
    sessions: sessionmaker[Session], process: str, since: datetime | None, now: datetime
) -> None:
    """Write the horizon of a lagging process (uploads waiting ``since``), or delete it."""
    with transaction(sessions) as session:
        if since is not None:
            repository.note(session, process, now, since)
        else:
            repository.forget(session, process)


def heard_until(session: Session, now: datetime) -> datetime:
    """The moment up to which the center has heard all that reached it: silence is
    judged there (the earliest upload still waiting in a live process), else now."""
    oldest = repository.oldest_waiting(session, now - STALE)
    return now if oldest is None else min(now, oldest)


class HorizonReporter:
    """Writes the horizon of this process every ``REPORT_S`` while it lags (a thread)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        arrivals: Arrivals,
        clock: Callable[[], datetime],
        interval_s: float = REPORT_S,
    ) -> None:
        self.sessions, self.arrivals, self.clock = sessions, arrivals, clock
        self.process = node_name()
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = False
        self._failing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="coalwatch-horizon", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._written:
            self._round(caught_up=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._round()

    def _round(self, caught_up: bool = False) -> None:
        now = self.clock()
        since = None if caught_up else waiting_since(self.arrivals, now)
        if since is None and not self._written:
            return  # nothing to say, nothing to take back: no write
        try:
            report(self.sessions, self.process, since, now)
            self._written = since is not None
            if self._failing:
                log.info("the ingest horizon is written again")
                self._failing = False
        except Exception:
            if not self._failing:  # once on failure, once on recovery
                log.exception("could not write the ingest horizon; retrying")
                self._failing = True
