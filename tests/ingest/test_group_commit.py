"""Group commit of station batches (ingest/committer.py), on SQLite and PostgreSQL.

Several batches in one transaction, committed once: each is answered as it would be
alone, a refused one does not touch the others, a station's batches keep their
arrival order, and nothing is answered before the commit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.errors import BadRequest, Invalid, Unauthorized
from coalwatch.events.broker import Broker, Event
from coalwatch.ingest.committer import Busy, Committer, Upload, ingest_group
from coalwatch.ingest.service import IngestLimits
from coalwatch.storage.models import Record, Station
from coalwatch.web.context import AppState
from coalwatch.wire.batches import BatchAnswer, encode_batch
from coalwatch.wire.signing import generate_private_key, sign
from tests.support.world import World, totalizer, world

LIMITS = IngestLimits(clock_skew=timedelta(seconds=60), max_records=5000)


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        for n in (1, 2, 3):
            w.mine(f"M{n}", belts=("B1",), station=f"S{n}")
        yield w


def state(w: World) -> AppState:
    found: AppState = w.client.app.state.coalwatch  # type: ignore[attr-defined]
    return found


def upload(
    w: World, station: str, seqs: range, *, sent_at: datetime | None = None, key: Any = None
) -> Upload:
    start = w.clock() - timedelta(minutes=30)
    records = [totalizer(s, start + timedelta(minutes=s), "B1", 100 + s) for s in seqs]
    body = encode_batch(station, sent_at or w.clock(), records)
    return Upload(station, body, sign(key or w.stations[station].key, body), LIMITS)


def together(committer: Committer, uploads: list[Upload]) -> list[Future[BatchAnswer]]:
    """Submit uploads that arrive together: the first while the others are being
    received, so that the committer gathers them all in one group."""
    with contextlib.ExitStack() as stack:
        submits = [stack.enter_context(committer.receiving(u.station)) for u in uploads[1:]]
        futures = [committer.submit(uploads[0])]
        futures += [submit(u) for submit, u in zip(submits, uploads[1:], strict=True)]
    return futures


def stored(w: World, station: str | None = None) -> list[int]:
    from coalwatch.storage.models import Station

    query = select(Record.seq).order_by(Record.seq)
    if station is not None:
        query = query.join(Station, Station.id == Record.station_id).where(Station.code == station)
    with state(w).sessions() as session:
        return [int(seq) for seq in session.scalars(query)]


def group(w: World, uploads: list[Upload], broker: Broker | None = None) -> list[Any]:
    return ingest_group(state(w).sessions, broker, uploads, w.clock)


def test_a_refused_batch_in_the_middle_leaves_the_others_as_alone(w: World) -> None:
    bad_key = generate_private_key()
    outcomes = group(
        w,
        [
            upload(w, "S1", range(1, 3)),
            upload(w, "S2", range(1, 3), key=bad_key),
            upload(w, "S3", range(1, 3)),
            Upload(
                "S3", b'{"station": "S3"}', sign(w.stations["S3"].key, b'{"station": "S3"}'), LIMITS
            ),
        ],
    )
    first, refused, third, envelope = outcomes
    assert isinstance(first, BatchAnswer) and first.acked_seq == 2
    assert isinstance(refused, Unauthorized)
    assert isinstance(third, BatchAnswer) and third.acked_seq == 2
    assert isinstance(envelope, Invalid | BadRequest)
    assert stored(w, "S1") == [1, 2] and stored(w, "S3") == [1, 2]
    assert stored(w, "S2") == []
    # the refused station sends again with its own key: taken, from seq 1
    again = group(w, [upload(w, "S2", range(1, 3))])
    assert isinstance(again[0], BatchAnswer) and again[0].acked_seq == 2 and not again[0].gaps


def test_a_stations_batches_keep_their_arrival_order(w: World) -> None:
    outcomes = group(
        w,
        [
            upload(w, "S2", range(1, 2)),
            upload(w, "S1", range(3, 5)),  # arrives first: seqs 1-2 missing so far
            upload(w, "S1", range(1, 3)),
            upload(w, "S1", range(1, 3)),  # the same batch again
        ],
    )
    other, later, earlier, repeat = outcomes
    assert isinstance(other, BatchAnswer) and other.acked_seq == 1
    assert isinstance(later, BatchAnswer) and later.acked_seq == 4
    assert later.gaps == [(1, 2)]
    assert isinstance(earlier, BatchAnswer) and earlier.acked_seq == 4 and not earlier.gaps
    assert earlier.duplicates == 0
    assert isinstance(repeat, BatchAnswer) and repeat.duplicates == 2
    assert stored(w, "S1") == [1, 2, 3, 4]


def savepoints_taken(w: World) -> list[str]:
    """The SAVEPOINT statements run from now on (the list fills as they run)."""
    taken: list[str] = []
    engine = state(w).sessions.kw["bind"]

    def executing(*args: Any) -> None:
        if str(args[2]).startswith("SAVEPOINT"):
            taken.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", executing)
    return taken


def test_a_group_whose_batches_are_kept_or_refused_at_admission_takes_no_savepoint(
    w: World,
) -> None:
    taken = savepoints_taken(w)
    outcomes = group(
        w,
        [
            upload(w, "S1", range(1, 3)),
            upload(w, "S2", range(1, 3), key=generate_private_key()),
            upload(w, "S3", range(1, 3)),
        ],
    )
    assert [type(o) for o in outcomes] == [BatchAnswer, Unauthorized, BatchAnswer]
    assert taken == []
    assert (stored(w, "S1"), stored(w, "S2"), stored(w, "S3")) == ([1, 2], [], [1, 2])


def test_a_batch_failing_once_admitted_is_refused_alone_and_the_others_kept(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its failure rolls back the group, which is ingested again with a savepoint a
    batch: it alone is answered with its error, with nothing of it kept, nor its events."""
    from coalwatch.ingest import service

    real = service.ingest_admitted

    def ingest_admitted(session: Session, admitted: service.Admitted, *args: Any) -> BatchAnswer:
        answer = real(session, admitted, *args)
        if admitted.station.code == "S2":
            raise RuntimeError("a defect after S2's records were written")
        return answer

    monkeypatch.setattr(service, "ingest_admitted", ingest_admitted)
    heard: list[Event] = []
    broker = Broker()
    broker.listen(heard.append)
    late = w.clock() - timedelta(minutes=10)  # the station's clock: an alarm each
    outcomes = group(
        w,
        [
            upload(w, "S1", range(1, 3), sent_at=late),
            upload(w, "S2", range(1, 3), sent_at=late),
            upload(w, "S3", range(1, 3), sent_at=late),
        ],
        broker,
    )
    first, failed, third = outcomes
    assert isinstance(first, BatchAnswer) and first.acked_seq == 2
    assert isinstance(failed, RuntimeError)
    assert isinstance(third, BatchAnswer) and third.acked_seq == 2
    assert (stored(w, "S1"), stored(w, "S2"), stored(w, "S3")) == ([1, 2], [], [1, 2])
    skews = [e.data["mine"] for e in heard if e.data.get("type") == "clock_skew"]
    assert sorted(skews) == ["M1", "M3"], heard


def test_events_of_the_others_survive_a_refused_batch(w: World) -> None:
    heard: list[Event] = []
    broker = Broker()
    broker.listen(heard.append)
    late = w.clock() - timedelta(minutes=10)  # the station's clock: an alarm
    outcomes = group(
        w,
        [
            upload(w, "S1", range(1, 2), sent_at=late),
            upload(w, "S2", range(1, 2), key=generate_private_key()),
        ],
        broker,
    )
    assert isinstance(outcomes[0], BatchAnswer) and isinstance(outcomes[1], Unauthorized)
    assert any(e.kind == "alarm" and e.data.get("type") == "clock_skew" for e in heard), heard


def failing_commits(
    sessions: sessionmaker[Session], error: Exception
) -> tuple[sessionmaker[Session], threading.Event]:
    """Sessions whose commit fails with ``error`` until the event is set."""
    factory = sessionmaker(sessions.kw["bind"], expire_on_commit=False)
    healed = threading.Event()

    @event.listens_for(factory, "before_commit")
    def _refuse(session: Session) -> None:
        # the transaction's commit (a savepoint's release runs the same hook)
        if not healed.is_set() and not session.in_nested_transaction():
            raise error

    return factory, healed


def test_a_failed_commit_fails_every_batch_of_the_group_and_keeps_nothing(w: World) -> None:
    sessions, healed = failing_commits(state(w).sessions, RuntimeError("the disk is full"))
    heard: list[Event] = []
    broker = Broker()
    broker.listen(heard.append)
    committer = Committer(sessions, broker, w.clock, wait_s=5.0, max_batches=3)
    late = w.clock() - timedelta(minutes=10)  # an alarm, never told: it was not kept
    futures = together(
        committer,
        [
            upload(w, "S1", range(1, 3), sent_at=late),
            upload(w, "S2", range(1, 3)),
            upload(w, "S1", range(3, 4)),
        ],
    )
    for future in futures:
        with pytest.raises(RuntimeError, match="disk is full"):
            future.result(timeout=60)
    assert stored(w) == []
    assert (committer.groups, committer.batches) == (0, 0)
    assert heard == []
    healed.set()
    answer = committer.submit(upload(w, "S1", range(1, 3))).result(timeout=60)
    assert answer.acked_seq == 2 and not answer.gaps  # nothing of the failed group stayed
    committer.stop()


def test_a_database_away_refuses_the_group_and_the_queue_at_once(w: World) -> None:
    down = OperationalError("COMMIT", {}, Exception("server closed the connection"))
    sessions, _ = failing_commits(state(w).sessions, down)
    committer = Committer(sessions, None, w.clock, wait_s=0.0, max_batches=1)
    futures = [committer.submit(upload(w, f"S{n}", range(1, 2))) for n in (1, 2, 3)]
    for future in futures:
        with pytest.raises(OperationalError):
            future.result(timeout=60)
    assert stored(w) == []
    committer.stop()


def held_commits(
    sessions: sessionmaker[Session], hook: str
) -> tuple[sessionmaker[Session], threading.Event, threading.Event]:
    """Sessions whose transaction's commit waits at ``hook`` (``before_commit``: before
    it, ``after_commit``: done, not yet returned) until released; and the events that
    tell it is there and release it."""
    factory = sessionmaker(sessions.kw["bind"], expire_on_commit=False)
    committing, release = threading.Event(), threading.Event()

    def _hold(session: Session) -> None:
        if not session.in_nested_transaction():  # a savepoint's release runs it too
            committing.set()
            assert release.wait(60)

    event.listen(factory, hook, _hold)
    return factory, committing, release


def test_answered_only_after_the_commit_and_a_full_queue_is_refused(w: World) -> None:
    factory, committing, release = held_commits(state(w).sessions, "after_commit")
    committer = Committer(factory, None, w.clock, wait_s=0.0, max_batches=1, queue_size=1)
    first = committer.submit(upload(w, "S1", range(1, 3)))
    assert committing.wait(60)
    second = committer.submit(upload(w, "S2", range(1, 3)))  # the queue's one place
    with pytest.raises(Busy) as refused:
        committer.submit(upload(w, "S3", range(1, 3)))
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "5"}
    assert not first.done() and not second.done()  # committed, not yet answered
    release.set()
    assert first.result(timeout=60).acked_seq == 2
    assert second.result(timeout=60).acked_seq == 2
    committer.stop()


def test_a_full_queue_is_answered_503_with_retry_after(w: World) -> None:
    factory, committing, release = held_commits(state(w).sessions, "before_commit")
    app_state = state(w)
    previous = app_state.committer
    app_state.committer = Committer(factory, None, w.clock, wait_s=0.0, max_batches=1, queue_size=1)
    try:
        held = app_state.committer.submit(upload(w, "S1", range(1, 2)))
        assert committing.wait(60)
        queued = app_state.committer.submit(upload(w, "S2", range(1, 2)))
        response = w.upload("S3", [totalizer(1, w.clock(), "B1", 1)])
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"]["code"] == "busy"
        release.set()
        assert held.result(timeout=60).acked_seq == 1 and queued.result(timeout=60).acked_seq == 1
    finally:
        release.set()
        app_state.committer.stop()
        app_state.committer = previous
    assert stored(w, "S3") == []


def test_stopping_commits_what_is_queued(w: World) -> None:
    committer = Committer(state(w).sessions, None, w.clock, wait_s=0.0, max_batches=2)
    futures = [committer.submit(upload(w, f"S{n}", range(1, 3))) for n in (1, 2, 3)]
    committer.stop()
    assert [f.result(timeout=0).acked_seq for f in futures] == [2, 2, 2]
    with pytest.raises(Busy):
        committer.submit(upload(w, "S1", range(3, 4)))
    assert len(stored(w)) == 6


def test_an_upload_alone_is_not_kept_waiting_for_others(w: World) -> None:
    """Nothing else being received: the committer commits what it holds at once, however
    long it may wait for more (a wait of a minute would fail the ``result`` below)."""
    committer = Committer(state(w).sessions, None, w.clock, wait_s=60.0, max_batches=32)
    for first in (1, 3, 5):  # a client that sends its next batch once the last is answered
        answer = committer.submit(upload(w, "S1", range(first, first + 2))).result(timeout=30)
        assert answer.acked_seq == first + 1
    committer.stop()
    assert (committer.groups, committer.batches) == (3, 3)


def test_an_upload_being_received_joins_the_group_gathered_meanwhile(w: World) -> None:
    committer = Committer(state(w).sessions, None, w.clock, wait_s=60.0, max_batches=32)
    with committer.receiving("S2") as submit_s2:
        first = committer.submit(upload(w, "S1", range(1, 3)))
        # the committer holds S1's batch and waits for the one being received
        second = submit_s2(upload(w, "S2", range(1, 3)))
    # once it came, nothing more is being received: committed without waiting further
    assert first.result(timeout=30).acked_seq == 2 and second.result(timeout=30).acked_seq == 2
    committer.stop()
    assert (committer.groups, committer.batches) == (1, 2)


def test_an_upload_that_never_came_is_not_waited_for_again(w: World) -> None:
    committer = Committer(state(w).sessions, None, w.clock, wait_s=0.5, max_batches=32)
    with committer.receiving("S2"):
        pass  # the request failed before its body was read: nothing queued
    answer = committer.submit(upload(w, "S1", range(1, 3))).result(timeout=30)
    assert answer.acked_seq == 2
    committer.stop()


def test_uploads_over_http_share_groups(w: World) -> None:
    for n in (1, 2, 3):
        response = w.upload(f"S{n}", [totalizer(1, w.clock(), "B1", 5)])
        assert w.ok(response)["acked_seq"] == 1
    committer = state(w).committer
    assert committer is not None and committer.batches == 3
    with state(w).sessions() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 3


def test_several_lanes_keep_each_stations_order(w: World) -> None:
    committer = Committer(state(w).sessions, None, w.clock, lanes=3, wait_s=0.0, max_batches=2)
    futures = [
        committer.submit(upload(w, station, range(first, first + 2)))
        for first in (1, 3, 5)
        for station in ("S1", "S2", "S3")
    ]
    answers = [f.result(timeout=60) for f in futures]
    assert [a.acked_seq for a in answers] == [2, 2, 2, 4, 4, 4, 6, 6, 6]
    assert not any(a.gaps or a.duplicates for a in answers)
    committer.stop()
    assert stored(w, "S2") == [1, 2, 3, 4, 5, 6]


def test_an_application_started_again_takes_uploads_again(w: World) -> None:
    """The application's lifespan may run more than once (a test client per call, as
    schemathesis does): its committer stops with it and takes uploads when it starts."""
    from fastapi.testclient import TestClient

    app = w.client.app
    with TestClient(app):  # starts, then stops the lifespan a second time
        pass
    with TestClient(app):
        response = w.upload("S1", [totalizer(1, w.clock(), "B1", 5)])
        assert w.ok(response)["acked_seq"] == 1
    assert stored(w, "S1") == [1]


@contextmanager
def station_row_held(w: World, station: str) -> Iterator[None]:
    """Another transaction holds ``station``'s row (as a job updating it would), and the
    group's statements give up on a lock after 200 ms."""
    engine = state(w).sessions.kw["bind"]

    @event.listens_for(engine, "begin")
    def _short_lock_wait(connection: Any) -> None:
        connection.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")

    with engine.connect() as other, other.begin():
        other.execute(select(Station.id).where(Station.code == station).with_for_update()).all()
        try:
            yield
        finally:
            event.remove(engine, "begin", _short_lock_wait)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lock_time_out_in_a_group_loses_no_batch_answered(w: World) -> None:
    """A batch of the group meets a lock held elsewhere: it alone is refused (503, the
    station sends it again); every batch answered was committed."""
    committer = Committer(state(w).sessions, None, w.clock, wait_s=5.0, max_batches=3)
    with station_row_held(w, "S2"):
        futures = together(
            committer, [upload(w, station, range(1, 3)) for station in ("S1", "S2", "S3")]
        )
        outcomes: list[Any] = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=60))
            except Exception as error:
                outcomes.append(error)
    committer.stop()
    assert isinstance(outcomes[0], BatchAnswer) and outcomes[0].acked_seq == 2, outcomes
    assert isinstance(outcomes[2], BatchAnswer) and outcomes[2].acked_seq == 2, outcomes
    assert isinstance(outcomes[1], OperationalError), outcomes
    assert (stored(w, "S1"), stored(w, "S2"), stored(w, "S3")) == ([1, 2], [], [1, 2])
    # the refused batch, sent again once the lock is gone, is taken as new
    again = Committer(state(w).sessions, None, w.clock, wait_s=0.0, max_batches=1)
    assert again.submit(upload(w, "S2", range(1, 3))).result(timeout=60).acked_seq == 2
    again.stop()
    assert stored(w, "S2") == [1, 2]


def test_a_statement_beside_the_orm_is_undone_with_its_savepoint(w: World) -> None:
    """``connection_of`` keeps the connection of the transaction; a statement run on it in
    a savepoint begun after it was kept belongs to that savepoint."""
    from sqlalchemy import update

    from coalwatch.storage.connections import connection_of

    with state(w).sessions() as session, session.begin():
        connection_of(session).execute(update(Station).values(max_seq=1))
        savepoint = session.begin_nested()
        connection_of(session).execute(update(Station).values(max_seq=2))
        savepoint.rollback()
        assert connection_of(session).scalar(select(func.max(Station.max_seq))) == 1


def swallowing_a_failure(monkeypatch: pytest.MonkeyPatch, station: str, times: int) -> None:
    """``station``'s next ``times`` batches run a statement that fails beside the ORM, and
    the failure is swallowed: their transaction is left failed (as a defect would)."""
    from coalwatch.ingest import service
    from coalwatch.storage.connections import connection_of

    real, left = service.ingest_admitted, [times]

    def ingest_admitted(session: Session, admitted: service.Admitted, *args: Any) -> BatchAnswer:
        answer = real(session, admitted, *args)
        if admitted.station.code == station and left[0] > 0:
            left[0] -= 1
            with contextlib.suppress(Exception):  # the defect this test stands for
                connection_of(session).exec_driver_sql("SELECT 1 / 0")
        return answer

    monkeypatch.setattr(service, "ingest_admitted", ingest_admitted)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_group_left_failed_is_never_answered_and_each_batch_runs_alone(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    swallowing_a_failure(monkeypatch, "S2", times=1)
    committer = Committer(state(w).sessions, None, w.clock, wait_s=5.0, max_batches=3)
    futures = together(committer, [upload(w, s, range(1, 3)) for s in ("S1", "S2", "S3")])
    assert [f.result(timeout=60).acked_seq for f in futures] == [2, 2, 2]
    committer.stop()
    assert (committer.groups, committer.batches) == (3, 3)  # each alone, once
    assert (stored(w, "S1"), stored(w, "S2"), stored(w, "S3")) == ([1, 2], [1, 2], [1, 2])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_whose_transaction_failed_is_refused_503_not_answered_kept(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    swallowing_a_failure(monkeypatch, "S1", times=1)
    response = w.upload("S1", [totalizer(1, w.clock(), "B1", 5)])
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "not_kept"
    assert response.headers["Retry-After"] == "5"
    assert stored(w, "S1") == []
    assert w.ok(w.upload("S1", [totalizer(1, w.clock(), "B1", 5)]))["acked_seq"] == 1
    assert stored(w, "S1") == [1]
