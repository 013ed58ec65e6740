"""Engines and sessions. One transaction per request or job, committed at the boundary.

Durability: a batch is acknowledged to its station only after its commit, and the
station then deletes it from its outbox; so a commit must survive a power loss. SQLite
runs with ``synchronous=FULL`` (WAL with NORMAL may lose the last commits on power
loss); PostgreSQL with its default ``synchronous_commit=on``.

Time limits: a database that stops answering must not hold a request (or a station's
upload) until the client gives up. With ``DbTimeouts`` the engine bounds every wait:
connecting (``connect_timeout``), a statement and a lock on the server
(``statement_timeout``, ``lock_timeout``), a connection from the pool (``pool_timeout``),
SQLite's wait for its write lock (``busy_timeout``). A server that is not reached at all
(a network that drops packets without closing connections) answers nothing, not even
its own timeout: a watchdog thread then shuts the connection's socket a moment after
the statement timeout, so the statement fails as a lost connection does.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.storage import facts
from coalwatch.storage.connections import connection_of
from coalwatch.storage.files import private_dir, private_sqlite

log = logging.getLogger("coalwatch.storage")

#: PostgreSQL's codes for a wait past ``lock_timeout`` and past ``statement_timeout``
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"


def server_code(error: BaseException) -> str | None:
    """The SQLSTATE the database server reported for a driver error; None when no server
    said anything (a lost connection, SQLite)."""
    cause = getattr(error, "orig", None)
    code: str | None = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return code


#: seconds to connect, for every engine (libpq counts whole seconds, at least 2)
CONNECT_TIMEOUT_S = 3


@dataclass(frozen=True, slots=True)
class DbTimeouts:
    """Seconds; ``statement`` 0 means no statement limit (migrations, restores)."""

    connect: int = CONNECT_TIMEOUT_S
    statement: float = 8.0
    lock: float = 5.0
    pool: float = 3.0

    @property
    def client(self) -> float:
        """How long a statement may go without an answer before the client gives up on
        the connection: past the server's own limit, which answers first when it can."""
        return self.statement + 1.0 if self.statement else 0.0


def make_engine(url: str, timeouts: DbTimeouts | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full synchronous commits, foreign keys and
    a busy timeout. Without ``timeouts`` only connecting is bounded (tools, migrations)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_dir(Path(database).parent)
            private_sqlite(Path(database))
        busy_ms = int((timeouts.lock if timeouts else 30.0) * 1000)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself, so that a transaction is
            # opened before the first statement (pysqlite defers it otherwise).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    elif timeouts is None:
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    else:
        engine = _bounded_postgres(url, timeouts, **kwargs)
    facts.install(engine)  # static facts cached per process, invalidated on commit
    return engine


def _bounded_postgres(url: str, timeouts: DbTimeouts, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    # the URL may carry options of its own (a search_path): keep them
    options = [str(parsed.query.get("options", "")).strip()] if "options" in parsed.query else []
    options.append(f"-c statement_timeout={int(timeouts.statement * 1000)}")
    options.append(f"-c lock_timeout={int(timeouts.lock * 1000)}")
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("connect_timeout", timeouts.connect)
    connect_args["options"] = " ".join(o for o in options if o)
    engine = create_engine(
        parsed.difference_update_query(["options"]),
        pool_timeout=timeouts.pool,
        connect_args=connect_args,
        **kwargs,
    )
    watchdog = _Watchdog()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # the pessimistic ping, bounded: a pooled connection whose server went silent
        # is given up after the connect timeout and replaced (which is bounded too)
        watchdog.watch(dbapi_connection, timeouts.connect)
        try:
            # outside a transaction, so that the connection's user may still choose how
            # its own begins (an isolation level, a snapshot); no extra round trip
            dbapi_connection.autocommit = True
            try:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            finally:
                dbapi_connection.autocommit = False
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error
        finally:
            watchdog.unwatch(dbapi_connection)

    def _watch(conn: Any, *_args: Any) -> None:
        watchdog.watch(conn.connection.dbapi_connection, timeouts.client)

    def _unwatch(conn: Any, *_args: Any) -> None:
        watchdog.unwatch(conn.connection.dbapi_connection)

    event.listen(engine, "before_cursor_execute", _watch)
    event.listen(engine, "after_cursor_execute", _unwatch)
    event.listen(engine, "commit", _watch)  # a commit is a round trip too
    event.listen(engine, "rollback", _watch)

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            watchdog.unwatch(dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        if context.connection is not None and not context.connection.closed:
            watchdog.unwatch(context.connection.connection.dbapi_connection)

    return engine


class _Watchdog:
    """Shuts the socket of a connection whose round trip has gone unanswered too long."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[int, tuple[float, int]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, dbapi_connection: Any, seconds: float) -> None:
        if not seconds or dbapi_connection is None:
            return
        try:
            fileno = int(dbapi_connection.fileno())
        except Exception:
            return  # closed already: nothing to wait for
        with self._lock:
            self._due[id(dbapi_connection)] = (time.monotonic() + seconds, fileno)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="coalwatch-db-watchdog", daemon=True
                )
                self._thread.start()

    def unwatch(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._due.pop(id(dbapi_connection), None)

    def _run(self) -> None:
        """Runs while something is watched, and ends when nothing is (an engine left
        behind keeps no thread)."""
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            with self._lock:
                expired = [(k, f) for k, (due, f) in self._due.items() if due <= now]
                for key, fileno in expired:
                    del self._due[key]
                    _shut(fileno)
                if not self._due:
                    self._thread = None
                    return


def _shut(fileno: int) -> None:
    """Shut a socket down under its owner (a duplicate descriptor reaches the same socket);
    the owner's blocked read then ends as a lost connection."""
    try:
        with socket.socket(fileno=os.dup(fileno)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
        log.debug("a database connection gave no answer in time; it was shut")
    except OSError:
        pass  # closed meanwhile


def core(session: Session) -> Connection:
    """The session's connection, for a Core statement on the hot path: what
    ``session.execute`` does for one (the ORM's pending changes flushed first) without the
    ORM's execution layers, which cost more than a small statement itself."""
    if session.new or session.deleted or session.dirty:
        session.flush()
    return connection_of(session)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed when the block ends, rolled back on error."""
    with factory() as session, session.begin():
        yield session
