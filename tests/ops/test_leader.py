"""Leader election for the background jobs (hot standby): the lease in ``job_leases``.

Lease tests run on a controlled clock (the database time, ``now``) and a controlled
monotonic clock (the holder's own trust in its lease); the scheduler tests run real
rounds in threads against the same database, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.events.broker import Broker
from coalwatch.jobs.leader import Leader, Lease, lease_state
from coalwatch.jobs.scheduler import Scheduler
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.e2e.harness import wait_for
from tests.support.world import world

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@dataclass
class Clocks:
    """The database's time and each holder's monotonic clock, moved by hand together."""

    now: datetime = T0
    mono: float = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def lease(sessions: sessionmaker[Session], holder: str, clocks: Clocks, ttl_s: float = 20) -> Lease:
    return Lease(
        sessions, holder, ttl_s=ttl_s, clock=lambda: clocks.now, monotonic=lambda: clocks.mono
    )


def state(sessions: sessionmaker[Session]) -> tuple[str, int]:
    with transaction(sessions) as session:
        current = lease_state(session)
    assert current is not None
    return current.holder, current.term


def test_the_first_claimant_holds_the_lease_and_the_second_waits(
    sessions: sessionmaker[Session],
) -> None:
    clocks = Clocks()
    a, b = lease(sessions, "A", clocks), lease(sessions, "B", clocks)
    assert a.refresh() and a.held
    assert not b.refresh() and not b.held
    clocks.advance(5)
    assert a.refresh()  # renewed: now expires at T0 + 5 + 20 s
    clocks.advance(19)
    assert not b.refresh()  # T0 + 24 s < T0 + 25 s
    assert state(sessions) == ("A", 1)


def test_a_lease_not_renewed_passes_to_the_standby_with_the_next_term(
    sessions: sessionmaker[Session],
) -> None:
    clocks = Clocks()
    a, b = lease(sessions, "A", clocks), lease(sessions, "B", clocks)
    assert a.refresh()
    clocks.advance(20)  # A died at T0; its lease ran out at T0 + 20 s
    assert b.refresh() and b.held
    assert state(sessions) == ("B", 2)
    # A, paused rather than dead, cannot renew what B now holds
    assert not a.refresh() and not a.held
    assert state(sessions) == ("B", 2)


def test_a_holder_stops_trusting_its_lease_before_anyone_else_may_take_it(
    sessions: sessionmaker[Session],
) -> None:
    clocks = Clocks()
    a = lease(sessions, "A", clocks)
    assert a.refresh()
    clocks.advance(15.9)
    assert a.held
    clocks.advance(0.1)  # 16 s = 0.8 × 20 s without a renewal (the database unreachable)
    assert not a.held


def test_released_lease_is_taken_over_at_once(sessions: sessionmaker[Session]) -> None:
    clocks = Clocks()
    a, b = lease(sessions, "A", clocks), lease(sessions, "B", clocks)
    assert a.refresh()
    a.release()
    assert not a.held
    assert b.refresh()
    assert state(sessions) == ("B", 2)


def test_of_candidates_racing_for_an_expired_lease_exactly_one_wins(
    sessions: sessionmaker[Session],
) -> None:
    clocks = Clocks()
    assert lease(sessions, "old", clocks).refresh()
    clocks.advance(21)
    candidates = [lease(sessions, f"C{i}", clocks) for i in range(4)]
    results: list[bool] = []
    start = threading.Barrier(len(candidates))

    def claim(candidate: Lease) -> None:
        start.wait()
        results.append(candidate.refresh())

    threads = [threading.Thread(target=claim, args=(c,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    winner = next(c for c in candidates if c.held)
    assert state(sessions) == (winner.holder, 2)


def test_the_database_clock_judges_the_lease_when_no_clock_is_given(
    sessions: sessionmaker[Session],
) -> None:
    a, b = Lease(sessions, "A", ttl_s=30), Lease(sessions, "B", ttl_s=30)
    assert a.refresh() and not b.refresh()
    a.note_round()
    with transaction(sessions) as session:
        current = lease_state(session)
    assert current is not None and current.last_round_at is not None
    assert current.expires_at - current.acquired_at == timedelta(seconds=30)
    a.release()
    assert b.refresh()
    assert state(sessions) == ("B", 2)


@dataclass
class Rounds:
    """Which holder finished each round, noted where the scheduler notes it."""

    by: list[str] = field(default_factory=list)


class CountingLease(Lease):
    rounds: Rounds

    def note_round(self) -> None:
        self.rounds.by.append(self.holder)
        super().note_round()


def test_of_two_schedulers_on_one_database_only_the_leader_runs_rounds(
    sessions: sessionmaker[Session],
) -> None:
    rounds = Rounds()
    centers: list[tuple[Leader, Scheduler]] = []
    for name in ("A", "B"):
        # a 1 s lease renewed every 0.25 s; a round every 0.05 s
        claim = CountingLease(sessions, name, ttl_s=1.0)
        claim.rounds = rounds
        leader = Leader(claim)
        leader.start()  # A claims first and leads
        scheduler = Scheduler(sessions, Broker(), lambda: datetime.now(UTC), 0.05, leader=leader)
        scheduler.start()
        centers.append((leader, scheduler))
    try:
        wait_for(lambda: len(rounds.by) >= 5, 20, "five rounds")
        assert set(rounds.by) == {"A"}
        # A dies: no release, its lease runs out and B takes over with the next term
        leader_a, scheduler_a = centers[0]
        scheduler_a.stop()
        leader_a.stop(release=False)
        before = len(rounds.by)
        wait_for(lambda: "B" in rounds.by, 20, "B to run a round")
        assert set(rounds.by[before:]) == {"B"}
        assert state(sessions) == ("B", 2)
        time.sleep(0.3)  # a few more rounds, all B's
        assert set(rounds.by[before:]) == {"B"}
    finally:
        for leader, scheduler in centers:
            scheduler.stop()
            leader.stop()


def test_the_leader_is_shown_to_api_tokens(database_url: str) -> None:
    with world(database_url) as w:
        assert w.ok(w.get("/jobs/leader")) == {
            "holder": None,
            "term": 0,
            "active": False,
            "acquired_at": None,
            "expires_at": None,
            "last_round_at": None,
        }
        sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
        claim = Lease(sessions, "center-a:1:abc", ttl_s=30)
        assert claim.refresh()
        shown = w.ok(w.get("/jobs/leader"))
        assert (shown["holder"], shown["term"], shown["active"]) == ("center-a:1:abc", 1, True)
        assert shown["last_round_at"] is None
        claim.release()
        assert w.ok(w.get("/jobs/leader"))["active"] is False
        assert w.client.get("/api/v1/jobs/leader").status_code == 401
