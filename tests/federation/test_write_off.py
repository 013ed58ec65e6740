"""A forward-queue id taken by a transaction that rolled back never comes (PostgreSQL
sequences do not roll back): the forwarder writes it off at the upstream once no
transaction that could still commit it is open; an id held by an open transaction is
never written off, and arrives when that transaction commits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.federation import repository
from coalwatch.federation.queue import enable_forwarding, enqueue_config
from coalwatch.federation.service import Forwarder
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.federation.conftest import T0, served
from tests.support.world import World, world


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    made = make_sessionmaker(engine)
    enable_forwarding(made, "MC")
    yield made
    engine.dispose()


def org(session: Session, code: str) -> None:
    data = {"code": code, "name": code, "kind": "company", "parent": "C1"}
    enqueue_config(session, "org.create", code, data, T0)


def gaps(up: World) -> Any:
    return up.ok(up.get("/centers"))["items"][0]


@pytest.fixture
def up(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url, T0) as w:
        w.ok(w.post("/orgs", {"code": "C1", "name": "县", "kind": "county"}))
        yield w


def test_a_rolled_back_id_is_written_off(sessions: sessionmaker[Session], up: World) -> None:
    key = generate_private_key()
    up.ok(up.post("/centers", {"code": "MC", "public_key": public_key_b64(key), "org": "C1"}))
    with transaction(sessions) as session:
        org(session, "X1")
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        org(session, "X2")
        raise RuntimeError("rolled back after taking an id")
    with transaction(sessions) as session:
        org(session, "X3")
        ids = [i.id for i in repository.queued(session, 10)]
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    # PostgreSQL: the sequence kept going (1, 3); SQLite: the rolled-back id is reused
    assert ids == ([ids[0], ids[0] + 2] if postgres else [ids[0], ids[0] + 1])
    with served(up.client.app) as url:
        forwarder = Forwarder(url, "MC", key, write_off_after_s=0)
        assert forwarder.forward_due(sessions, T0) == 2
        expected_gaps = [[ids[0] + 1, ids[0] + 1]] if postgres else []
        assert gaps(up)["acked_seq"] == ids[-1]
        assert _gaps_of(up) == expected_gaps
        forwarder.forward_due(sessions, T0)  # the gap was seen; no transaction can fill it
        assert _gaps_of(up) == []
    assert sorted(o["code"] for o in up.ok(up.get("/orgs"))["items"]) == ["C1", "X1", "X3"]


def test_an_id_held_by_an_open_transaction_is_not_written_off(
    sessions: sessionmaker[Session], up: World
) -> None:
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no id is taken by an open transaction")
    key = generate_private_key()
    up.ok(up.post("/centers", {"code": "MC", "public_key": public_key_b64(key), "org": "C1"}))
    slow = sessions()
    try:
        org(slow, "X1")  # takes an id and stays open
        with transaction(sessions) as session:
            org(session, "X2")
        with served(up.client.app) as url:
            forwarder = Forwarder(url, "MC", key, write_off_after_s=0)
            assert forwarder.forward_due(sessions, T0) == 1
            assert forwarder.forward_due(sessions, T0) == 0
            assert forwarder.forward_due(sessions, T0) == 0
            assert len(_gaps_of(up)) == 1  # still expected
            slow.commit()
            assert forwarder.forward_due(sessions, T0) == 1
            assert _gaps_of(up) == []
    finally:
        slow.close()
    assert sorted(o["code"] for o in up.ok(up.get("/orgs"))["items"]) == ["C1", "X1", "X2"]


def _gaps_of(up: World) -> list[Any]:
    engine = make_engine(up.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            center = repository.center_for_update(session, "MC")
            assert center is not None
            found: list[Any] = json.loads(center.gaps)
            return found
    finally:
        engine.dispose()
