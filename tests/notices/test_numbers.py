"""A document's number 文号 is unique: two documents issued by one unit in the same
instant get the next two numbers of the unit's year, on both databases, even when the
second is issued while the first one's transaction is still open.

Tree: SX province → C1 county → X1 company → M1 mine.
Clock: 2026-03-15 04:00 UTC (12:00 Asia/Shanghai)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from coalwatch.auth.principal import Principal
from coalwatch.auth.service import token_permissions
from coalwatch.notices import service
from coalwatch.notices.schemas import IssueIn
from coalwatch.storage.models import Org
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, world


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as w:
        w.ok(w.post("/orgs", {"code": "SX", "name": "山西省", "kind": "province"}))
        w.ok(
            w.post("/orgs", {"code": "C1", "name": "C1 县煤炭局", "kind": "county", "parent": "SX"})
        )
        w.ok(w.post("/orgs", {"code": "X1", "name": "X1 煤业", "kind": "company", "parent": "C1"}))
        w.mine("M1", org="X1", belts=(), trips=(), station=None)
        yield w


def instruction(w: World, title: str) -> IssueIn:
    return IssueIn.model_validate(
        {
            "kind": "instruction",
            "mine": "M1",
            "title": title,
            "problem": "立即报送本月生产计划",
            "deadline": (w.clock() + timedelta(days=1)).isoformat(),
        }
    )


def county(session: Session) -> Principal:
    path = session.scalars(select(Org.path).where(Org.code == "C1")).one()
    return Principal(name="c1", scope_path=path, permissions=token_permissions(True, False))


def wait_for_lock_wait(session: Session) -> None:
    """Until another PostgreSQL connection waits for a lock the open transaction holds
    (SQLite: the second writer waits for the write lock; a moment lets it get there)."""
    if session.get_bind().dialect.name != "postgresql":
        time.sleep(0.3)
        return
    probe = make_engine(str(session.get_bind().url))
    try:
        for _ in range(200):
            with probe.connect() as conn:
                waiting = conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query ILIKE '%notice%' AND pid <> pg_backend_pid()"
                    )
                )
            if waiting:
                return
            time.sleep(0.05)
    finally:
        probe.dispose()


def test_two_documents_issued_in_one_instant_get_two_numbers(w: World) -> None:
    engine = make_engine(w.url)
    sessions = make_sessionmaker(engine)
    numbers: list[str] = []
    failures: list[BaseException] = []

    def second() -> None:
        try:
            with transaction(sessions) as session:
                issued = service.issue(session, county(session), instruction(w, "二"), w.clock())
                numbers.append(issued.number)
        except BaseException as exc:  # the assertion below names it
            failures.append(exc)

    try:
        with transaction(sessions) as session:
            issued = service.issue(session, county(session), instruction(w, "一"), w.clock())
            numbers.append(issued.number)
            other = threading.Thread(target=second)
            other.start()
            wait_for_lock_wait(session)
        other.join(timeout=60)
    finally:
        engine.dispose()
    assert not other.is_alive()
    assert failures == []
    # the unit's instructions of 2026: 001 and 002, in the order they were issued
    assert numbers == ["C1-ZL-2026-001", "C1-ZL-2026-002"]


def test_numbers_continue_after_documents_issued_before(w: World) -> None:
    token = w.token_for("C1", write=True)
    body = instruction(w, "一").model_dump(mode="json", exclude_defaults=True)
    first = w.ok(w.post("/notices", body, token))["number"]
    second = w.ok(w.post("/notices", {**body, "title": "二"}, token))["number"]
    # 1 January 2027 in Asia/Shanghai: the sequence starts again
    w.clock.advance(days=292)
    later = {**body, "deadline": (w.clock() + timedelta(days=1)).isoformat()}
    third = w.ok(w.post("/notices", later, token))["number"]
    assert (first, second, third) == ("C1-ZL-2026-001", "C1-ZL-2026-002", "C1-ZL-2027-001")
