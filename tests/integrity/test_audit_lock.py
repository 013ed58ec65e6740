"""The audit chain's writers take their turns by a lock of the chain they append to: on
PostgreSQL, the chain of their schema. Two centers on two schemas of one database (a
county and its province on one server, or the tests' workers) do not wait for each other's
audit entries; two writers of one chain still do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError

from coalwatch.audit.models import AuditEntry
from coalwatch.audit.service import record
from coalwatch.storage.session import make_engine, make_sessionmaker

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def other_schema(database_url: str) -> Iterator[str]:
    """A second schema on the same database holding an audit chain of its own."""
    url = make_url(database_url)
    options = str(url.query["options"])
    schema = options.split("search_path=")[1].split()[0]
    other = f"{schema}_other"
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{other}"'))
    other_url = url.update_query_dict(
        {"options": options.replace(f"search_path={schema}", f"search_path={other}")}
    ).render_as_string(hide_password=False)
    other_engine = make_engine(other_url)
    with other_engine.begin() as connection:
        AuditEntry.__table__.create(connection)
    other_engine.dispose()
    try:
        yield other_url
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{other}" CASCADE'))
        engine.dispose()


def _append(url: str, key: str, lock_timeout: str) -> None:
    """One entry appended and committed, waiting at most ``lock_timeout`` for the lock."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            session.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
            record(session, actor="test", action="poke", entity="test", key=key, detail={}, at=T0)
    finally:
        engine.dispose()


def test_a_writer_of_another_schemas_chain_does_not_wait(
    database_url: str, other_schema: str
) -> None:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as holder, holder.begin():
            # an entry of the first chain, not committed yet: its writer holds the lock
            record(holder, actor="test", action="poke", entity="test", key="1", detail={}, at=T0)
            _append(other_schema, "2", "200ms")  # another chain: no wait
            with pytest.raises(OperationalError, match="lock timeout"):
                _append(database_url, "3", "200ms")  # the same chain: its turn comes after
    finally:
        engine.dispose()
