"""Group commit of station batches: many uploads, one transaction, one durable commit.

Every upload of the process (HTTP and MQTT) is put on a bounded queue; one committer
thread takes what is queued (up to ``max_batches`` batches and ``max_bytes`` of bodies,
waiting at most ``wait_s`` for more once it holds one), ingests each batch with
``service.ingest_batch`` in ONE transaction and commits once. Each upload is answered
only after that commit, with exactly what it would have been answered alone.

- Isolation: each batch runs in a SAVEPOINT of its own; a batch that is refused (a bad
  signature, an invalid envelope, any error ``ingest_batch`` raises) is rolled back to
  its savepoint, its events dropped, and answered with its error; the others go on.
- Order: a group is ingested sorted by station (stable: a station's batches keep their
  arrival order), so two processes committing groups take the rows they share (a
  station's state, a mine's points and rollups) in the same order.
- A deadlock or serialization failure rolls the group back and ingests each of its
  batches alone, in its own transaction, as a batch was before group commit.
- The database unavailable (cannot connect, lost connection, pool time-out): every
  batch of the group, and every one queued behind it, gets that error (the API answers
  503 ``database_unavailable``), at once rather than one group's time-out after another.
- A full queue refuses the upload (503 ``busy`` with ``Retry-After``) rather than wait.
- Events (alarms) are published when the group commits (``events.broker``), never for a
  batch that was rolled back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.errors import CoalwatchError
from coalwatch.events.broker import PENDING, Broker, attach
from coalwatch.ingest import service
from coalwatch.wire.batches import BatchAnswer

log = logging.getLogger("coalwatch.ingest")

#: a test's way to kill the center between a group's commit and its answers (the moment a
#: commit must already be durable); never set in service
EXIT_AFTER_COMMIT = "COALWATCH_TEST_EXIT_AFTER_COMMIT"

#: seconds a station is asked to wait when the queue is full
BUSY_RETRY_AFTER_S = 5

#: SQLSTATEs after which a group is ingested again batch by batch
_RETRY_ALONE = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


class Busy(CoalwatchError):
    """The queue of uploads waiting for their commit is full: retry in a few seconds."""

    status = 503
    code = "busy"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(BUSY_RETRY_AFTER_S)}


@dataclass(frozen=True, slots=True)
class Upload:
    """A station's batch as it came: the exact body bytes and their signature."""

    station: str
    body: bytes
    signature: str | None
    limits: service.IngestLimits


Outcome = BatchAnswer | Exception


def ingest_group(
    sessions: sessionmaker[Session],
    broker: Broker | None,
    uploads: Sequence[Upload],
    clock: Callable[[], datetime],
    *,
    savepoints: bool = True,
) -> list[Outcome]:
    """Ingest ``uploads`` in one transaction, committed once; for each, in the order
    given, its answer or the error it alone was refused with. Raises (nothing stored)
    when the group as a whole fails: the database unavailable, its commit failed, or a
    deadlock / serialization failure (``retry_alone`` tells which). ``savepoints`` False
    is for measuring their cost only: then a refused batch may leave work behind."""
    outcomes: list[Outcome | None] = [None] * len(uploads)
    order = sorted(range(len(uploads)), key=lambda i: uploads[i].station)
    with sessions() as session, session.begin():
        if broker is not None:
            attach(session, broker)
        for i in order:
            upload = uploads[i]
            if not savepoints:
                outcomes[i] = _ingest(session, upload, clock)
                session.expunge_all()
                continue
            events = list(session.info.get(PENDING, ()))
            savepoint = session.begin_nested()
            try:
                outcomes[i] = _ingest(session, upload, clock)
                savepoint.commit()
            except Exception as error:
                if _group_wide(error):
                    raise
                savepoint.rollback()
                # the savepoint's rollback drops every pending event: keep the others'
                session.info[PENDING] = events
                outcomes[i] = error
            # a fresh identity map for the next batch, as a transaction of its own had:
            # rows a rolled-back batch changed in memory are not seen by the next one
            session.expunge_all()
    return [o for o in outcomes if o is not None]


def _ingest(session: Session, upload: Upload, clock: Callable[[], datetime]) -> BatchAnswer:
    return service.ingest_batch(
        session, upload.station, upload.body, upload.signature, clock(), upload.limits
    )


def ingest_alone(
    sessions: sessionmaker[Session],
    broker: Broker | None,
    upload: Upload,
    clock: Callable[[], datetime],
) -> BatchAnswer:
    """One batch in a transaction of its own."""
    with sessions() as session, session.begin():
        if broker is not None:
            attach(session, broker)
        return _ingest(session, upload, clock)


def retry_alone(error: BaseException) -> bool:
    """A deadlock or serialization failure: the work is fine, its interleaving was not."""
    if not isinstance(error, DBAPIError):
        return False
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in _RETRY_ALONE


def database_down(error: BaseException) -> bool:
    """The database cannot be reached or did not answer in time (the API's 503)."""
    if retry_alone(error):
        return False
    return isinstance(error, OperationalError | InterfaceError | PoolTimeout) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


def _group_wide(error: BaseException) -> bool:
    return retry_alone(error) or database_down(error)


def _after_commit() -> None:
    if os.environ.get(EXIT_AFTER_COMMIT) == "1":
        os._exit(70)


@dataclass(slots=True)
class _Waiting:
    upload: Upload
    future: Future[BatchAnswer] = field(default_factory=Future)


class Committer:
    """The process's committer thread and its queue (started on the first upload, ended
    after ``idle_s`` without one and by ``stop``, which drains the queue first)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        broker: Broker | None,
        clock: Callable[[], datetime],
        *,
        max_batches: int = 32,
        max_bytes: int = 1024 * 1024,
        wait_s: float = 0.005,
        queue_size: int = 1000,
        idle_s: float = 30.0,
    ) -> None:
        self.sessions, self.broker, self.clock = sessions, broker, clock
        self.max_batches, self.max_bytes, self.wait_s = max_batches, max_bytes, wait_s
        self.idle_s = idle_s
        self._queue: queue.Queue[_Waiting | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        #: groups committed and batches in them (for benchmarks and tests)
        self.groups = 0
        self.batches = 0

    def submit(self, upload: Upload) -> Future[BatchAnswer]:
        """Queue ``upload``; the future holds its answer (or error) once committed."""
        waiting = _Waiting(upload)
        with self._lock:
            if self._stopping:
                raise Busy("the center is shutting down; retry later")
            try:
                self._queue.put_nowait(waiting)
            except queue.Full:
                raise Busy("the center is busy; retry later") from None
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="coalwatch-committer", daemon=True
                )
                self._thread.start()
        return waiting.future

    async def ingest(self, upload: Upload) -> BatchAnswer:
        """The answer to ``upload`` after its durable commit (its error raised)."""
        return await asyncio.wrap_future(self.submit(upload))

    def ingest_blocking(self, upload: Upload) -> BatchAnswer:
        """``ingest`` for a thread that is not an event loop (MQTT)."""
        return self.submit(upload).result()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Refuse new uploads, commit those queued, end the thread."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)  # after the queued uploads (waits for room)
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if first is None:
                break
            group, stop = self._gather(first)
            try:
                self._commit(group)
            except BaseException as error:  # never leave a request waiting
                log.exception("the committer failed")
                for waiting in group:
                    if not waiting.future.done():
                        waiting.future.set_exception(error)
        with self._lock:
            self._thread = None

    def _gather(self, first: _Waiting) -> tuple[list[_Waiting], bool]:
        """The group to commit, and whether the queue ended (``stop``) behind it."""
        group, size = [first], len(first.upload.body)
        deadline = time.monotonic() + self.wait_s
        while len(group) < self.max_batches and size < self.max_bytes:
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    waiting = self._queue.get(timeout=left)
                except queue.Empty:
                    break
            if waiting is None:
                return group, True
            group.append(waiting)
            size += len(waiting.upload.body)
        return group, False

    def _commit(self, group: list[_Waiting]) -> None:
        uploads = [w.upload for w in group]
        try:
            outcomes = ingest_group(self.sessions, self.broker, uploads, self.clock)
        except Exception as error:
            if retry_alone(error) and len(group) > 1:
                log.info("a group of %d batches met a %s: each alone", len(group), error)
                self._alone(group)
                return
            for waiting in group:
                waiting.future.set_exception(error)
            if database_down(error):
                self._refuse_queued(error)
            return
        self.groups += 1
        self.batches += len(group)
        _after_commit()
        for waiting, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Exception):
                waiting.future.set_exception(outcome)
            else:
                waiting.future.set_result(outcome)

    def _alone(self, group: list[_Waiting]) -> None:
        for waiting in sorted(group, key=lambda w: w.upload.station):
            try:
                answer = ingest_alone(self.sessions, self.broker, waiting.upload, self.clock)
            except Exception as error:
                waiting.future.set_exception(error)
                continue
            self.groups += 1
            self.batches += 1
            _after_commit()
            waiting.future.set_result(answer)

    def _refuse_queued(self, error: Exception) -> None:
        """The database is away: the uploads queued meanwhile would meet it too."""
        while True:
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                return
            if waiting is None:  # stopping: the thread ends after this group
                self._queue.put_nowait(None)
                return
            waiting.future.set_exception(error)
