"""A checkpoint signs the audit chain as one moment saw it, however busy the center is.

Entries are appended one at a time (a lock on PostgreSQL), while the checkpoint reads
the chain's head and counts its entries: an entry committed between the two reads is
after the head and must not be counted with it, or the next verification finds
"entries removed" where none were (a false ``data_tamper``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from coalwatch.audit import checkpoints
from coalwatch.audit.service import record
from coalwatch.config import Settings
from coalwatch.integrity.keys import center_key
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import World, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url, now=T0) as w:
        w.mine("M1")  # some audit entries
        yield w


def _append(url: str, n: int) -> None:
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        record(session, actor="test", action="poke", entity="test", key=str(n), detail={}, at=T0)
    engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_entry_committed_while_the_checkpoint_reads_is_not_counted(
    w: World, tmp_path: Path
) -> None:
    settings = Settings(database_url=w.url, var_dir=tmp_path, secret_key="k")
    key = center_key(settings)
    assert key is not None
    engine = make_engine(w.url)
    sessions = make_sessionmaker(engine)
    appended: list[int] = []

    def _between(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # after the head was read: another transaction appends and commits
        if "count(" in statement and not appended:
            appended.append(1)
            _append(w.url, 1)

    with sessions() as session, session.begin():
        event.listen(engine, "before_cursor_execute", _between)
        made = checkpoints.make_checkpoint(session, key, T0, tmp_path)
        event.remove(engine, "before_cursor_execute", _between)
    assert appended and made is not None
    with sessions() as session:
        assert checkpoints.verify_anchored(session, made.public_key) is None
    engine.dispose()
