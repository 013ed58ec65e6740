"""Static facts cached per process: what every ingested batch reads and almost never changes.

Thresholds, legal limits, shutdowns, capacities / reductions / plans, a station's issued
configuration, the signal choices and a mine's alarms not ended are read by every batch of
a mine, and change a few times a day at most. ``cached`` keeps them per process, keyed by
what the caller reads (a mine, a station) and the tables the value comes from.

Invalidation has ONE entry point, ``invalidate(table)``: it drops every value read from
that table (``invalidate()`` drops all). It is called by the engine events ``install``
puts on every engine ``storage.session.make_engine`` makes, when a transaction that wrote
to one of the ``TABLES`` commits (whatever wrote: the ORM, Core, text SQL), so no code
path that changes a fact has to remember it; code that changes the database beside
SQLAlchemy (a restored file) calls it itself. Another process's changes reach this one by
calling ``invalidate`` too (``committed`` is where a notification to the others belongs).

Correctness rules:

- a transaction that wrote to a table reads that table from the database until it ends
  (its own uncommitted rows are not for the others);
- a value is kept only if no fact changed since the reading transaction began, and no
  commit of a fact is under way (a transaction that began before another's commit may
  read what that commit replaced): ``_generation`` counts the changes;
- values are shared between threads and sessions: they must be immutable (tuples,
  frozen dataclasses, frozensets), and callers copy before changing them;
- a value is kept at most ``MAX_AGE_S`` seconds: a safety net for a change made where no
  event reaches (another process before notifications are wired), not the mechanism.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from coalwatch.storage.connections import connection_of

T = TypeVar("T")

#: the tables whose rows are cached facts
TABLES = frozenset(
    {
        "orgs",
        "mines",
        "thresholds",
        "legal_limits",
        "shutdowns",
        "capacities",
        "capacity_reductions",
        "plans",
        "station_configs",
        "signal_choices",
        "alarms",
    }
)
#: the longest a value is kept (seconds), whatever happens
MAX_AGE_S = 300.0

_WROTE = "coalwatch.facts.wrote"  # connection info: fact tables written in its transaction
_BEGAN = "coalwatch.facts.began"  # connection info: the generation when it began
_COMMITTING = "coalwatch.facts.committing"  # connection info: its commit is under way

_lock = threading.Lock()
_generation = 0
_committing = 0
#: per engine: key → (tables, kept at (monotonic), value)
_stores: weakref.WeakKeyDictionary[Engine, dict[Hashable, tuple[frozenset[str], float, Any]]]
_stores = weakref.WeakKeyDictionary()
_DML = re.compile(r'\s*(?:insert\s+into|update|delete\s+from)\s+"?(\w+)', re.I)


def invalidate(table: str | None = None) -> None:
    """Forget what was read from ``table`` (every table: None), in every engine of the
    process. The next read goes to the database."""
    global _generation
    with _lock:
        _generation += 1
        for store in list(_stores.values()):
            if table is None:
                store.clear()
            else:
                for key in [k for k, (tables, _, _) in store.items() if table in tables]:
                    del store[key]


#: what a commit of a fact table calls: ``invalidate`` in this process, or (set by the
#: app with ``announce_with``) an announcement that reaches every process on the database
_announce: Callable[[str], None] = invalidate


def announce_with(announce: Callable[[str], None]) -> None:
    """Let ``announce(table)`` tell every process (this one included) of a committed
    change; the announcement must end in ``forget(table)`` here."""
    global _announce
    _announce = announce


def forget(kind: str) -> None:
    """An announcement heard: a table's name, or ``*`` for everything."""
    invalidate(None if kind == "*" else kind)


def committed(tables: Iterable[str]) -> None:
    """A transaction that wrote to these fact tables committed (in this process)."""
    for table in tables:
        _announce(table)


def cached(session: Session, key: Hashable, tables: frozenset[str], load: Callable[[], T]) -> T:
    """The value ``load()`` reads from ``tables``, from this process's cache when it holds
    it (see the module's rules)."""
    connection = connection_of(session)
    info = connection.info
    store = _stores.get(connection.engine)
    if store is None or info.get(_WROTE, _EMPTY) & tables:
        return load()
    hit = store.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[1] < MAX_AGE_S:
        value: T = hit[2]
        return value
    began = info.get(_BEGAN)
    value = load()
    with _lock:
        if began == _generation and not _committing:
            store[key] = (tables, now, value)
    return value


_EMPTY: frozenset[str] = frozenset()


def install(engine: Engine) -> None:
    """Keep facts for this engine, and invalidate them when its transactions change them."""
    if engine in _stores:
        return
    _stores[engine] = {}

    def began(conn: Any) -> None:
        info = conn.info
        _settle(info)
        info[_WROTE] = _EMPTY
        info[_BEGAN] = _generation

    def executing(
        conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        table = _written_table(statement, context)
        if table is not None and (table in TABLES or table == _ALL):
            info = conn.info
            info[_WROTE] = TABLES if table == _ALL else info.get(_WROTE, _EMPTY) | {table}

    def committing(conn: Any) -> None:
        global _committing
        info = conn.info
        wrote = info.get(_WROTE, _EMPTY)
        if wrote:
            with _lock:
                _committing += 1
            info[_COMMITTING] = wrote
            info[_WROTE] = _EMPTY
            committed(wrote)  # before the commit: nothing read now is kept until it ends

    def rolled_back(conn: Any) -> None:
        conn.info[_WROTE] = _EMPTY

    def returned(_dbapi_connection: Any, record: Any) -> None:
        _settle(record.info)

    event.listen(engine, "begin", began)
    event.listen(engine, "before_cursor_execute", executing)
    event.listen(engine, "commit", committing)
    event.listen(engine, "rollback", rolled_back)
    event.listen(engine, "checkin", returned)


def _settle(info: dict[str, Any]) -> None:
    """A commit of facts on this connection ended (its connection begins again or goes back
    to the pool): values read from now on may be kept."""
    global _committing
    wrote = info.pop(_COMMITTING, None)
    if wrote:
        with _lock:
            _committing -= 1
        committed(wrote)  # after the commit: what was read during it is forgotten too


def _written_table(statement: str, context: Any) -> str | None:
    """The table an INSERT, UPDATE or DELETE writes (None: not one)."""
    compiled = getattr(context, "compiled", None)
    if compiled is not None and (context.isinsert or context.isupdate or context.isdelete):
        table = getattr(compiled.statement, "table", None)
        name = getattr(table, "name", None)
        if isinstance(name, str):
            return name
    head = statement[:7].lower()
    if head.startswith(("select", "with", "begin", "pragma", "savepoi", "release")):
        return None
    if head.startswith("truncat"):
        return _ALL  # TRUNCATE names several tables
    found = _DML.match(statement)
    return found.group(1).lower() if found else None


_ALL = "*"
