"""Leader election for the background jobs 主备切换: with two centers on one database,
the timed rules, notification delivery, daily reports and upstream forwarding run on
exactly one of them at a time.

How: a lease row in ``job_leases`` (name, holder, term, expires_at), taken or renewed
in a short transaction of its own every ``ttl / 4`` seconds. A holder that dies stops
renewing, and the lease expires ``ttl`` (default 20 s) after its last renewal; the next
candidate then takes it with a compare-and-set on the term. The term grows with each
change of hands, so a holder that was paused past its lease cannot renew it.

Why a lease row and not a PostgreSQL advisory lock held on a dedicated connection:

- the same code and the same tests on SQLite and PostgreSQL (two processes on one
  SQLite file are a real, if small, set-up); no second mechanism to keep correct;
- it survives connection poolers in transaction mode (PgBouncer), which break session
  advisory locks, and needs no connection held open for the life of the process;
- it fails safe on a network split: a holder that cannot reach the database stops
  considering itself leader before the lease runs out (``held`` is measured on its own
  monotonic clock from the start of its last successful renewal), whereas a session
  lock stays held by the server until TCP keepalive notices the lost client, for
  minutes, while the lost holder can no longer tell whether it still has it;
- who leads, since when, and when it last ran a round is a row one can read
  (``GET /api/v1/jobs/leader``).

The price is that a dead holder's lease must run out (≤ ``ttl``) where a dropped
connection would free a lock at once; 20 s is well within the minute we allow.
Expiry is judged by the database server's clock on PostgreSQL (``clock_timestamp()``),
so the two machines' clocks need not agree.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.jobs import lease_repository as repository
from coalwatch.storage.session import transaction

log = logging.getLogger("coalwatch.jobs.leader")

JOBS_LEASE = "jobs"
#: a holder trusts its lease for this share of the ttl after a renewal began, so that it
#: stops before any other can start, even if renewals are slow
TRUST = 0.8


def node_name() -> str:
    """This process, as a lease holder: host, pid and a random tag (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class LeaseState:
    name: str
    holder: str
    term: int
    acquired_at: datetime
    expires_at: datetime
    last_round_at: datetime | None


class Lease:
    """One process's claim on a named lease."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        holder: str | None = None,
        *,
        name: str = JOBS_LEASE,
        ttl_s: float = 20.0,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.holder = holder or node_name()
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        self._monotonic = monotonic
        self.term: int | None = None
        self._trusted_until = 0.0

    def _now(self, session: Session) -> datetime:
        return self._clock() if self._clock is not None else repository.database_now(session)

    @property
    def held(self) -> bool:
        """True while this process holds the lease (and may run the jobs)."""
        return self.term is not None and self._monotonic() < self._trusted_until

    def refresh(self) -> bool:
        """Renew the lease if it is ours, take it if it is free or expired: one short
        transaction. True when this process holds it afterwards."""
        started = self._monotonic()
        with transaction(self.sessions) as session:
            now = self._now(session)
            expires = now + self.ttl
            if self.term is not None and repository.renew(
                session, self.name, self.holder, self.term, expires
            ):
                term: int | None = self.term
            else:
                term = self._acquire(session, now, expires)
        previous, self.term = self.term, term
        if term is None:
            self._trusted_until = 0.0
            if previous is not None:
                log.warning("lost the lease %r of term %d", self.name, previous)
            return False
        self._trusted_until = started + self.ttl.total_seconds() * TRUST
        if previous != term:
            log.info("holding the lease %r as %s (term %d)", self.name, self.holder, term)
        return True

    def _acquire(self, session: Session, now: datetime, expires: datetime) -> int | None:
        row = repository.get(session, self.name)
        if row is None:
            return 1 if repository.create(session, self.name, self.holder, now, expires) else None
        if row.expires_at > now:
            return None  # another holds it
        if repository.take_over(session, self.name, self.holder, row.term, now, expires):
            return row.term + 1
        return None

    def release(self) -> None:
        """Give the lease up at once (a clean stop), so the standby need not wait it out."""
        term, self.term = self.term, None
        self._trusted_until = 0.0
        if term is None:
            return
        with transaction(self.sessions) as session:
            repository.release(session, self.name, self.holder, term, self._now(session))
        log.info("released the lease %r of term %d", self.name, term)

    def note_round(self) -> None:
        """Record that the holder finished a round of its work (shown by the status)."""
        if self.term is None:
            return
        with transaction(self.sessions) as session:
            repository.note_round(session, self.name, self.holder, self.term, self._now(session))


def lease_state(session: Session, name: str = JOBS_LEASE) -> LeaseState | None:
    """Who holds the lease now (or last held it), or None if nobody ever did."""
    row = repository.get(session, name)
    if row is None:
        return None
    return LeaseState(
        row.name, row.holder, row.term, row.acquired_at, row.expires_at, row.last_round_at
    )


class Leader:
    """Keeps claiming a lease in a thread of its own, every ``renew_s`` seconds."""

    def __init__(self, lease: Lease, renew_s: float | None = None) -> None:
        self.lease = lease
        self.renew_s = renew_s if renew_s is not None else lease.ttl.total_seconds() / 4
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def is_leader(self) -> bool:
        return self.lease.held

    def start(self) -> None:
        self._claim()  # at once: a lone center leads from its first round
        self._thread = threading.Thread(target=self._run, name="coalwatch-leader", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop claiming and release the lease (call after the jobs stopped); without
        ``release`` the lease is left to expire, as when a center dies."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if not release:
            return
        try:
            self.lease.release()
        except Exception:
            log.exception("could not release the lease %r; it expires by itself", self.lease.name)

    def _run(self) -> None:
        while not self._stop.wait(self.renew_s):
            self._claim()

    def _claim(self) -> None:
        try:
            self.lease.refresh()
            if self._failing:
                log.info("the lease %r can be claimed again", self.lease.name)
                self._failing = False
        except Exception:
            if not self._failing:  # once on failure, once on recovery
                log.exception("could not claim the lease %r; retrying", self.lease.name)
                self._failing = True
