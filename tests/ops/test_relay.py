"""The relay between center processes (PostgreSQL LISTEN/NOTIFY) and the cache
invalidation channel, in one test process: two relays stand for two processes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from coalwatch.events import invalidation
from coalwatch.events.broker import Broker, Event
from coalwatch.events.relay import PgRelay, channel_name
from coalwatch.storage.session import make_engine, transaction
from coalwatch.web.app import connect_caches


def until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_an_announcement_runs_the_callbacks_once_its_transaction_commits(
    sqlite_url: str,
) -> None:
    heard: list[str] = []
    unregister = invalidation.register(heard.append)
    engine = make_engine(sqlite_url)
    try:
        sessions = sessionmaker(engine)
        with pytest.raises(RuntimeError), transaction(sessions) as session:
            invalidation.announce_after_commit(session, "points")
            raise RuntimeError("rolled back")
        assert heard == []
        with transaction(sessions) as session:
            invalidation.announce_after_commit(session, "points")
            invalidation.announce_after_commit(session, "points")
            assert heard == []
        assert heard == ["points"]
        invalidation.announce("thresholds")
        assert heard == ["points", "thresholds"]
        with pytest.raises(ValueError):
            invalidation.announce("")
    finally:
        unregister()
        engine.dispose()


@pytest.mark.postgres
def test_events_and_announcements_reach_the_other_process_once(postgres_schema: str) -> None:
    here, there = Broker(), Broker()
    got_here: list[Event] = []
    got_there: list[Event] = []
    here.listen(got_here.append)
    there.listen(got_there.append)
    relays = [PgRelay(postgres_schema, here), PgRelay(postgres_schema, there)]
    announced: list[str] = []
    unregister = invalidation.register(announced.append)
    try:
        for relay in relays:
            relay.start()
        schema = re.search(r"search_path(?:=|%3D)(\w+)", postgres_schema)
        assert schema is not None and relays[0].channel == channel_name(schema.group(1))
        data: dict[str, Any] = {"mine": "M1", "type": "overproduction_hour"}
        here.publish("alarm", "/1/2/", data)
        here.publish("alarm", "/1/2/", data)  # equal events are two events
        assert until(lambda: len(got_there) == 2)
        assert [(e.kind, e.org_path, e.data) for e in got_there] == [("alarm", "/1/2/", data)] * 2
        assert len(got_here) == 2  # published here at once, not echoed back
        # the second relay is the other process's link: the announcement made "here" (through
        # the last relay connected) runs the local callbacks and comes back from the other
        invalidation.announce("points")
        assert until(lambda: announced.count("points") == 2)
    finally:
        unregister()
        for relay in relays:
            relay.stop()


@pytest.mark.postgres
def test_a_fact_changed_in_one_process_is_forgotten_by_the_other(postgres_schema: str) -> None:
    """The facts cache of the app (connect_caches): a committed change of a threshold in
    one process reaches the other's cache through the relay; two relays and two engines
    stand for the two processes, whose caches live in one module here."""
    connect_caches()
    forgotten: list[str] = []
    unregister = invalidation.register(forgotten.append)
    relays = [PgRelay(postgres_schema, Broker()), PgRelay(postgres_schema, Broker())]
    engine = make_engine(postgres_schema)
    try:
        for relay in relays:
            relay.start()
        with transaction(sessionmaker(engine)) as session:
            session.execute(text("DELETE FROM thresholds WHERE id = -1"))
        # once here (the commit), once more from the other process's link
        assert until(lambda: forgotten.count("thresholds") == 2)
    finally:
        unregister()
        for relay in relays:
            relay.stop()
        engine.dispose()
