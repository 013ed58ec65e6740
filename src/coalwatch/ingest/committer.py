"""Group commit of station batches: many uploads, one transaction, one durable commit.

Every upload of the process (HTTP and MQTT) is put on a bounded queue; a committer
thread (one per lane; a station's batches always take the same lane) takes what is
queued (up to ``max_batches`` batches and ``max_bytes`` of bodies, waiting at most
``wait_s`` for more once it holds one), ingests each batch in ONE transaction and
commits once. Each upload is answered only after that commit, with exactly what it
would have been answered alone. It waits only while an upload of its lane is being
received (``Committer.receiving``): a station that uploads alone, or clients that each
send their next batch once the last is answered, are not kept waiting for uploads that
are not coming.

- Isolation: a batch refused at its admission (an unknown station, a bad signature, an
  invalid envelope: ``service.admit``, before it writes anything) is answered with its
  error and the others go on. A batch that fails once admitted (any error
  ``service.ingest_admitted`` raises) rolls the group back, and the group is ingested
  again with a SAVEPOINT a batch: the failing one is rolled back to its savepoint, its
  events dropped, and answered with its error; the others go on. Savepoints cost two
  round trips a batch, so they are taken only when a batch needs one.
- Order: a group is ingested sorted by station (stable: a station's batches keep their
  arrival order), so two processes committing groups take the rows they share (a
  station's state, a mine's points and rollups) in the same order.
- A deadlock or serialization failure rolls the group back and ingests each of its
  batches alone, in its own transaction, as a batch was before group commit. So does a
  transaction the database holds as failed at the commit (a statement failed that
  nothing undid): a ``COMMIT`` then would roll back, silently on PostgreSQL,
  batches about to be answered as kept.
- The database unavailable (cannot connect, lost connection, pool time-out): every
  batch of the group, and every one queued behind it, gets that error (the API answers
  503 ``database_unavailable``), at once rather than one group's time-out after another.
  A statement or lock time-out is one batch's error (503 as before), not the group's.
- A full queue refuses the upload (503 ``busy`` with ``Retry-After``) rather than wait.
- Events (alarms) are published when the group commits (``events.broker``), never for a
  batch that was rolled back.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.errors import CoalwatchError
from coalwatch.events.broker import PENDING, Broker, attach
from coalwatch.ingest import service
from coalwatch.storage.connections import transaction_failed
from coalwatch.storage.session import server_code
from coalwatch.wire.batches import BatchAnswer

log = logging.getLogger("coalwatch.ingest")

#: a test's way to kill the center between a group's commit and its answers (the moment a
#: commit must already be durable); never set in service
EXIT_AFTER_COMMIT = "COALWATCH_TEST_EXIT_AFTER_COMMIT"

#: seconds a station is asked to wait when the queue is full
BUSY_RETRY_AFTER_S = 5

#: SQLSTATEs after which a group is ingested again batch by batch
_RETRY_ALONE = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


class NotKept(CoalwatchError):
    """The transaction failed in a way no savepoint undid: nothing of it was committed,
    and the station sends its batch again."""

    status = 503
    code = "not_kept"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(BUSY_RETRY_AFTER_S)}


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
) -> list[Outcome]:
    """Ingest ``uploads`` in one transaction, committed once; for each, in the order
    given, its answer or the error it alone was refused with. Raises (nothing stored)
    when the group as a whole fails: the database unavailable, its commit failed, or a
    deadlock / serialization failure (``retry_alone`` tells which); a batch alone raises
    its own refusal.

    A group is first ingested without savepoints (two round trips a batch fewer): a
    refusal before the batch writes anything (``service.admit``) leaves nothing to undo.
    A batch that fails once it writes (or a statement of its admission that failed) rolls
    the group back, and the group is ingested again with a savepoint a batch."""
    if len(uploads) == 1:  # its refusal rolls back a transaction of its own
        return _ingest_together(sessions, broker, uploads, clock, _alone_in_group)
    try:
        return _ingest_together(sessions, broker, uploads, clock, _without_savepoint)
    except _Undo as undo:
        log.info(
            "a batch of a group of %d failed (%s): the group again with savepoints",
            len(uploads),
            undo.__cause__,
        )
    return _ingest_together(sessions, broker, uploads, clock, _in_savepoint)


class _Undo(Exception):
    """A batch of a group without savepoints failed where only a rollback undoes it."""


def _ingest_together(
    sessions: sessionmaker[Session],
    broker: Broker | None,
    uploads: Sequence[Upload],
    clock: Callable[[], datetime],
    one: Callable[[Session, Upload, Callable[[], datetime]], Outcome],
) -> list[Outcome]:
    """``uploads`` in one transaction, each by ``one``, in the order of their stations."""
    outcomes: list[Outcome | None] = [None] * len(uploads)
    #: the events of the batches kept, published by the commit (after it, and only if it
    #: succeeds)
    kept: list[Any] = []
    with sessions() as session, session.begin():
        if broker is not None:
            attach(session, broker)
        for i in sorted(range(len(uploads)), key=lambda i: uploads[i].station):
            outcome = outcomes[i] = one(session, uploads[i], clock)
            events = session.info.pop(PENDING, ())
            if not isinstance(outcome, Exception):
                kept.extend(events)
            # a fresh identity map for the next batch, as a transaction of its own had:
            # rows a rolled-back batch changed in memory are not seen by the next one
            session.expunge_all()
        _refuse_failed(session)
        session.info[PENDING] = kept
    return [o for o in outcomes if o is not None]


def _alone_in_group(session: Session, upload: Upload, clock: Callable[[], datetime]) -> Outcome:
    answer = _ingest(session, upload, clock)
    session.flush()
    return answer


def _in_savepoint(session: Session, upload: Upload, clock: Callable[[], datetime]) -> Outcome:
    """One batch in a savepoint of its own: its answer, or its error with all it did
    rolled back. A savepoint's release runs the session's ``after_commit`` (which
    publishes) and its rollback ``after_rollback`` (which drops every pending event), so
    the batch's events are taken out of the session before either."""
    savepoint = session.begin_nested()
    try:
        answer = _ingest(session, upload, clock)
        session.flush()
        events = session.info.pop(PENDING, [])
        savepoint.commit()
    except Exception as error:
        if _group_wide(error):
            raise
        savepoint.rollback()
        session.info.pop(PENDING, None)
        return error
    session.info[PENDING] = events
    return answer


def _without_savepoint(session: Session, upload: Upload, clock: Callable[[], datetime]) -> Outcome:
    """One batch of a group without savepoints: its answer, or its refusal when nothing
    of it was written; ``_Undo`` when only a rollback would undo what it did."""
    try:
        admitted = service.admit(
            session, upload.station, upload.body, upload.signature, upload.limits
        )
    except Exception as error:
        if _group_wide(error):
            raise
        if transaction_failed(session):  # a statement of it failed (a lock time-out)
            raise _Undo from error
        return error
    try:
        answer = service.ingest_admitted(session, admitted, clock(), upload.limits)
        session.flush()
    except Exception as error:
        if _group_wide(error):
            raise
        raise _Undo from error
    # the batch returned, with a statement of it failed and the failure swallowed (a
    # defect): the group is never committed, each batch runs alone
    _refuse_failed(session)
    return answer


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
        answer = _ingest(session, upload, clock)
        _refuse_failed(session)
        return answer


def _refuse_failed(session: Session) -> None:
    """Never commit a failed transaction: its ``COMMIT`` is a rollback (silent on
    PostgreSQL), and the batches would be answered as kept."""
    if transaction_failed(session):
        raise NotKept(
            "the batch was not kept (the database refused the transaction); send it again"
        )


def retry_alone(error: BaseException) -> bool:
    """A deadlock or serialization failure: the work is fine, its interleaving was not;
    or the group failed as a whole, and each batch alone is answered for what it is."""
    if isinstance(error, NotKept):
        return True
    if not isinstance(error, DBAPIError):
        return False
    return server_code(error) in _RETRY_ALONE


def connection_lost(error: BaseException) -> bool:
    """The database cannot be reached (not connected, connection lost, no pooled
    connection in time): every batch would meet it. A statement or lock time-out, which
    the server reports itself, is one batch's (its savepoint is rolled back)."""
    if isinstance(error, InterfaceError | PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    return isinstance(error, OperationalError) and not server_code(error)


def _group_wide(error: BaseException) -> bool:
    return retry_alone(error) or connection_lost(error)


def _after_commit() -> None:
    if os.environ.get(EXIT_AFTER_COMMIT) == "1":
        os._exit(70)


@dataclass(slots=True)
class _Waiting:
    upload: Upload
    future: Future[BatchAnswer] = field(default_factory=Future)


class Committer:
    """The process's committer threads ("lanes") and their queues. A station's batches
    always go to the same lane (by its code), so they are committed in arrival order;
    each lane's thread starts on its first upload and ends after ``idle_s`` without one,
    or by ``stop``, which drains its queue first. More than one lane lets the database
    round trips of one group overlap another's (one connection each)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        broker: Broker | None,
        clock: Callable[[], datetime],
        *,
        lanes: int = 1,
        max_batches: int = 32,
        max_bytes: int = 1024 * 1024,
        wait_s: float = 0.005,
        queue_size: int = 1000,
        idle_s: float = 30.0,
    ) -> None:
        self.sessions, self.broker, self.clock = sessions, broker, clock
        self.max_batches, self.max_bytes, self.wait_s = max_batches, max_bytes, wait_s
        self.idle_s = idle_s
        self._lanes = [_Lane(self, max(1, queue_size // lanes)) for _ in range(lanes)]
        self._count_lock = threading.Lock()
        #: groups committed and batches in them (for benchmarks and tests)
        self.groups = 0
        self.batches = 0

    def submit(self, upload: Upload) -> Future[BatchAnswer]:
        """Queue ``upload``; the future holds its answer (or error) once committed."""
        return self._lane(upload.station).submit(upload)

    def ingest_blocking(self, upload: Upload) -> BatchAnswer:
        """``ingest`` for a thread that is not an event loop (MQTT)."""
        return self.submit(upload).result()

    def start(self) -> None:
        """Take uploads again after ``stop`` (an application started once more)."""
        for lane in self._lanes:
            lane.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Refuse new uploads, commit those queued, end the threads."""
        for lane in self._lanes:
            lane.stop()
        deadline = time.monotonic() + timeout_s
        for lane in self._lanes:
            lane.join(max(0.0, deadline - time.monotonic()))

    @contextmanager
    def receiving(self, station: str) -> Iterator[Callable[[Upload], Future[BatchAnswer]]]:
        """An upload of ``station`` is being received (its body read) in this block, and
        queued by the ``submit`` it yields: meanwhile a group its lane gathers waits for it,
        up to ``wait_s``."""
        lane = self._lane(station)
        lane.receiving(1)
        submitted = False

        def submit(upload: Upload) -> Future[BatchAnswer]:
            nonlocal submitted
            submitted = True
            return lane.submit(upload, received=True)

        try:
            yield submit
        finally:
            if not submitted:
                lane.receiving(-1)

    def _lane(self, station: str) -> _Lane:
        return self._lanes[zlib.crc32(station.encode()) % len(self._lanes)]

    def _committed(self, batches: int) -> None:
        with self._count_lock:
            self.groups += 1
            self.batches += batches


class _Lane:
    """One committer thread and its bounded queue."""

    def __init__(self, owner: Committer, queue_size: int) -> None:
        self.owner = owner
        self._queue: queue.Queue[_Waiting | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        #: uploads of the lane being received (``Committer.receiving``)
        self._receiving = 0
        self._receiving_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._joining: threading.Thread | None = None

    def submit(self, upload: Upload, *, received: bool = False) -> Future[BatchAnswer]:
        """Queue ``upload``; ``received``: it was counted as being received, and is no
        longer (before it is queued: a group gathered meanwhile never waits for it once
        it is there)."""
        waiting = _Waiting(upload)
        with self._lock:
            if received:
                self.receiving(-1)
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

    def receiving(self, change: int) -> None:
        with self._receiving_lock:
            self._receiving += change

    def start(self) -> None:
        with self._lock:
            self._stopping = False

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._joining = self._thread
            if self._thread is not None:
                self._queue.put(None)  # after the queued uploads (waits for room)

    def join(self, timeout_s: float) -> None:
        if self._joining is not None:
            self._joining.join(timeout_s)

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=self.owner.idle_s)
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
        owner = self.owner
        deadline = time.monotonic() + owner.wait_s
        while len(group) < owner.max_batches and size < owner.max_bytes:
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0 or not self._receiving:  # nothing on its way: no wait
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
        owner = self.owner
        try:
            outcomes = ingest_group(owner.sessions, owner.broker, uploads, owner.clock)
        except Exception as error:
            if retry_alone(error) and len(group) > 1:
                log.info("a group of %d batches met a %s: each alone", len(group), error)
                self._alone(group)
                return
            for waiting in group:
                waiting.future.set_exception(error)
            if connection_lost(error):
                self._refuse_queued(error)
            return
        owner._committed(len(group))
        _after_commit()
        for waiting, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Exception):
                waiting.future.set_exception(outcome)
            else:
                waiting.future.set_result(outcome)

    def _alone(self, group: list[_Waiting]) -> None:
        for waiting in sorted(group, key=lambda w: w.upload.station):
            owner = self.owner
            try:
                answer = ingest_alone(owner.sessions, owner.broker, waiting.upload, owner.clock)
            except Exception as error:
                waiting.future.set_exception(error)
                continue
            owner._committed(1)
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
