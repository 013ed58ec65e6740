"""Static facts cached per process: what every ingested batch reads and almost never changes.

Thresholds, legal limits, shutdowns, capacities / reductions / plans, a station's issued
configuration, the signal choices and a mine's alarms not ended are read by every batch of
a mine, and change a few times a day at most. ``cached`` keeps them per process, keyed by
what the caller reads (a mine, a station) and the tables the value comes from.
``cached_among`` keeps a kind of them read for every mine (station) at once, on the first
batch of any: a province's first minute would otherwise read each kind once a mine, and
each process's first batch of a mine would cost twice a batch's work. A mine whose
alarms changed has its own read again by itself.

Invalidation has ONE entry point, ``invalidate(table)``: it drops every value read from
that table (``invalidate()`` drops all). The rows of a ``SCOPED`` table belong to a mine:
a change of one mine's rows (``invalidate(table, mine_id)``) drops only the values read of
that mine (cached with ``scope`` = its id) and those read of no one mine; a change whose
mine is not known is a change of the whole table. It is called by the engine events ``install``
puts on every engine ``storage.session.make_engine`` makes, when a transaction that wrote
to one of the ``TABLES`` commits (whatever wrote: the ORM, Core, text SQL), so no code
path that changes a fact has to remember it; code that changes the database beside
SQLAlchemy (a restored file) calls it itself. Another process's changes reach this one by
calling ``invalidate`` too (``committed`` is where a notification to the others belongs).

Correctness rules:

- a transaction that wrote to a table reads that table from the database until it ends
  (its own uncommitted rows are not for the others); of a ``SCOPED`` table, only the rows
  of the mines it wrote;
- a value is kept only if none of its facts changed since the reading transaction began,
  and no commit of one is under way (a transaction that began before another's commit may
  read what that commit replaced): ``_generation`` counts the changes, ``_changed`` says
  when each (table, mine) last changed;
- values are shared between threads and sessions: they must be immutable (tuples,
  frozen dataclasses, frozensets), and callers copy before changing them;
- a value is kept at most ``MAX_AGE_S`` seconds: a safety net for a change made where no
  event reaches (another process before notifications are wired), not the mechanism;
- an engine keeps at most ``MAX_ENTRIES`` values (keys may name days and date ranges).
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from coalwatch.storage.connections import connection_of

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

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
#: the fact tables whose rows belong to a mine (their ``mine_id``)
SCOPED = frozenset({"alarms"})
#: the longest a value is kept (seconds), whatever happens
MAX_AGE_S = 300.0
#: the most values an engine keeps: a full store drops those past ``MAX_AGE_S``, and
#: everything when none is (values read of days and ranges no one asks for again)
MAX_ENTRIES = 100_000

_WROTE = "coalwatch.facts.wrote"  # connection info: fact tables written in its transaction
_CHANGES = "coalwatch.facts.changes"  # connection info: what it changed of them (``Change``)
_BEGAN = "coalwatch.facts.began"  # connection info: the generation when it began
_COMMITTING = "coalwatch.facts.committing"  # connection info: its commit is under way
_FLUSHING = "coalwatch.facts.flushing"  # connection info: table → mines a flush writes

#: a change of a fact table: (table, the mine whose rows changed, or None: any rows)
Change = tuple[str, int | None]

_lock = threading.Lock()
_generation = 0
#: the changes being committed (how many commits of each are under way)
_committing: dict[Change, int] = {}
#: the generation at which each change last happened; (table, None) for whole tables,
#: ("*", None) for every table
_changed: dict[Change, int] = {}
#: per table, the generation of its last change of whatever rows
_table_changed: dict[str, int] = {}
#: per engine: key → (tables, scope, kept at (monotonic), value)
_Entry = tuple[frozenset[str], int | None, float, Any]
_stores: weakref.WeakKeyDictionary[Engine, dict[Hashable, _Entry]]
_stores = weakref.WeakKeyDictionary()
_DML = re.compile(r'\s*(?:insert\s+into|update|delete\s+from)\s+"?(\w+)', re.I)


def invalidate(table: str | None = None, mine_id: int | None = None) -> None:
    """Forget what was read from ``table`` (every table: None), in every engine of the
    process; of a ``SCOPED`` table, only what was read of mine ``mine_id`` when it is
    given (and what was read of no one mine). The next read goes to the database."""
    global _generation
    with _lock:
        _generation += 1
        _changed[(table or _ALL, mine_id if table else None)] = _generation
        if table is not None:
            _table_changed[table] = _generation
        for store in list(_stores.values()):
            if table is None:
                store.clear()
                continue
            for key in [
                key
                for key, (tables, scope, _, _) in store.items()
                if table in tables and (mine_id is None or scope is None or scope == mine_id)
            ]:
                del store[key]


def _may_keep(tables: frozenset[str], scope: int | None, began: int | None) -> bool:
    """Whether a value read of ``tables`` (of mine ``scope``) by a transaction that began at
    generation ``began`` may be kept: none of its facts changed since, and no commit of
    one is under way. Called with ``_lock`` held."""
    if began is None:
        return False
    if _changed.get((_ALL, None), -1) > began or (_ALL, None) in _committing:
        return False
    for table in tables:
        if scope is None:
            last = _table_changed.get(table, -1)
        else:
            last = max(_changed.get((table, None), -1), _changed.get((table, scope), -1))
        if last > began:
            return False
    return not any(
        table in tables and (scope is None or mine is None or mine == scope)
        for table, mine in _committing
    )


#: what a commit of a fact table calls: ``invalidate`` in this process, or (set by the
#: app with ``announce_with``) an announcement that reaches every process on the database
_announce: Callable[[str], None] = invalidate


def announce_with(announce: Callable[[str], None]) -> None:
    """Let ``announce(table)`` tell every process (this one included) of a committed
    change; the announcement must end in ``forget(table)`` here."""
    global _announce
    _announce = announce


def forget(kind: str) -> None:
    """An announcement heard: a table's name, ``table:mine id`` for one mine's rows of a
    ``SCOPED`` table, or ``*`` for everything."""
    if kind == _ALL:
        invalidate()
        return
    table, _, mine = kind.partition(":")
    invalidate(table, int(mine) if mine.isdigit() else None)


def committed(changes: Iterable[Change]) -> None:
    """A transaction that made these changes of fact tables committed (in this process)."""
    for table, mine_id in changes:
        _announce(table if mine_id is None else f"{table}:{mine_id}")


def cached(
    session: Session,
    key: Hashable,
    tables: frozenset[str],
    load: Callable[[], T],
    *,
    scope: int | None = None,
) -> T:
    """The value ``load()`` reads from ``tables``, from this process's cache when it holds
    it (see the module's rules); ``scope``: the mine whose rows of the ``SCOPED`` tables
    the value is read from (None: of any mine)."""
    store, began, now, hit = _look_up(session, key, tables, scope)
    if hit is not _MISS:
        kept: T = hit
        return kept
    value = load()
    if store is not None:
        _keep(store, tables, scope, began, now, {key: value})
    return value


def cached_among(
    session: Session,
    kind: Hashable,
    owner: K,
    tables: frozenset[str],
    load_every: Callable[[], Mapping[K, T]],
    default: T,
    *,
    load_one: Callable[[], T] | None = None,
    scoped: bool = False,
) -> T:
    """``cached`` of the value of ``owner`` (a mine, a station) in a kind of fact read for
    every owner at once: a miss reads ``load_every()`` (every owner → its value; an owner
    it does not know, made since, has ``default``) and keeps each owner's value, under
    the key ``(kind, owner)``. ``load_every`` names every owner, those with nothing
    too: one it leaves out misses again at each call. The first batch of each of a
    province's mines would otherwise read its own in a query of its own.

    ``scoped``: the values are read from the rows of ``SCOPED`` tables that belong to
    their owner, a mine. A change of one mine's rows drops that mine's value only, and
    its next miss reads it alone with ``load_one()`` while every owner's reading stands;
    a change of the whole table drops them all, and the next miss reads every owner's
    again. A transaction that changed what an owner's value is read from reads it from
    the database at each call: ``load_one()`` when there is one (a batch that raised an
    alarm of its mine)."""
    scope = _scope(owner) if scoped else None
    store, began, now, hit = _look_up(session, (kind, owner), tables, scope)
    if hit is not _MISS:
        kept: T = hit
        return kept
    if load_one is not None and (store is None or _fresh(store, (kind, _EVERY), now)):
        value = load_one()
        if store is not None:
            _keep(store, tables, scope, began, now, {(kind, owner): value})
        return value
    every = load_every()
    value = every.get(owner, default)
    if store is not None:
        own = _own_changes(session, tables) if scoped else frozenset()
        _keep_every(store, kind, tables, scoped, began, now, {**every, owner: value}, own)
    return value


#: the key, beside a kind's owners, that says every owner's values were read (``_EVERY``),
#: and the scope it is kept under when they are mines' (none is a mine's id: a change of
#: one mine's rows leaves it, a change of the whole table drops it)
_EVERY = "every owner"
_NO_MINE = -1


def _scope(owner: Hashable) -> int:
    if not isinstance(owner, int):
        raise TypeError(f"a scoped fact belongs to a mine: {owner!r} is not a mine's id")
    return owner


def _own_changes(session: Session, tables: frozenset[str]) -> frozenset[int | None]:
    """The mines whose rows of ``tables`` the session's transaction changed (None: rows of
    any mine): what it read of them is its own, not yet the others'."""
    changes = connection_of(session).info.get(_CHANGES, frozenset())
    return frozenset(mine for table, mine in changes if table in tables or table == _ALL)


def _fresh(store: dict[Hashable, _Entry], key: Hashable, now: float) -> bool:
    hit = store.get(key)
    return hit is not None and now - hit[2] < MAX_AGE_S


def _keep_every(
    store: dict[Hashable, _Entry],
    kind: Hashable,
    tables: frozenset[str],
    scoped: bool,
    began: int | None,
    now: float,
    values: Mapping[Any, Any],
    own: frozenset[int | None],
) -> None:
    """Keep every owner's value of a kind read at once (owner → value), and the mark that
    they were: of a scoped kind, each mine's value if its rows did not change since the
    reading transaction began (the others' are still good) nor in it (``own``: the
    mines whose rows it changed, None for rows of any mine)."""
    if not scoped:
        kept: dict[Hashable, Any] = {(kind, owner): value for owner, value in values.items()}
        kept[(kind, _EVERY)] = True
        _keep(store, tables, None, began, now, kept)
        return
    with _lock:
        if None in own or not _may_keep(tables, _NO_MINE, began):  # the whole table changed
            return
        if len(store) + len(values) > MAX_ENTRIES:
            _make_room(store, now)
        for mine, value in values.items():
            if mine not in own and _may_keep(tables, mine, began):
                store[(kind, mine)] = (tables, mine, now, value)
        store[(kind, _EVERY)] = (tables, _NO_MINE, now, True)


#: what ``_look_up`` finds when the cache holds no value to use
_MISS = object()


def _look_up(
    session: Session, key: Hashable, tables: frozenset[str], scope: int | None
) -> tuple[dict[Hashable, _Entry] | None, int | None, float, Any]:
    """The store a value read now may be kept in (None: read it, do not keep it), the
    generation the transaction began at, now, and the value kept under ``key`` (``_MISS``:
    none to use)."""
    connection = connection_of(session)
    info = connection.info
    store = _stores.get(connection.engine)
    now = time.monotonic()
    if store is None or _wrote(info, tables, scope):
        return None, None, now, _MISS
    hit = store.get(key)
    if hit is not None and now - hit[2] < MAX_AGE_S:
        return store, None, now, hit[3]
    return store, info.get(_BEGAN), now, _MISS


def _keep(
    store: dict[Hashable, _Entry],
    tables: frozenset[str],
    scope: int | None,
    began: int | None,
    now: float,
    values: dict[Hashable, Any],
) -> None:
    """Keep these values read of ``tables`` (of mine ``scope``), if they may be kept."""
    with _lock:
        if _may_keep(tables, scope, began):
            if len(store) + len(values) > MAX_ENTRIES:
                _make_room(store, now)
            for key, value in values.items():
                store[key] = (tables, scope, now, value)


def _make_room(store: dict[Hashable, _Entry], now: float) -> None:
    """Drop the values past their age; all of them when none is. Called with ``_lock``."""
    for key in [key for key, entry in store.items() if now - entry[2] >= MAX_AGE_S]:
        del store[key]
    if len(store) >= MAX_ENTRIES:
        store.clear()


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
        info[_CHANGES] = frozenset()
        info.pop(_FLUSHING, None)
        info[_BEGAN] = _generation

    def executing(
        conn: Any, _cursor: Any, statement: str, params: Any, context: Any, _many: bool
    ) -> None:
        table = _written_table(statement, context)
        if table is not None and (table in TABLES or table == _ALL):
            info = conn.info
            info[_WROTE] = TABLES if table == _ALL else info.get(_WROTE, _EMPTY) | {table}
            info[_CHANGES] = info.get(_CHANGES, frozenset()) | _changes(info, table, params)

    def committing(conn: Any) -> None:
        info = conn.info
        changes = _collapsed(info.get(_CHANGES, frozenset()))
        info[_WROTE] = _EMPTY
        info[_CHANGES] = frozenset()
        if changes:
            with _lock:
                for change in changes:
                    _committing[change] = _committing.get(change, 0) + 1
            info[_COMMITTING] = changes
            committed(changes)  # before the commit: nothing read now is kept until it ends

    def rolled_back(conn: Any) -> None:
        conn.info[_WROTE] = _EMPTY
        conn.info[_CHANGES] = frozenset()
        conn.info.pop(_FLUSHING, None)

    def savepoint_rolled_back(conn: Any, _name: Any, _context: Any) -> None:
        conn.info.pop(_FLUSHING, None)  # a flush that failed in it

    def returned(_dbapi_connection: Any, record: Any) -> None:
        _settle(record.info)

    event.listen(engine, "begin", began)
    event.listen(engine, "before_cursor_execute", executing)
    event.listen(engine, "commit", committing)
    event.listen(engine, "rollback", rolled_back)
    event.listen(engine, "rollback_savepoint", savepoint_rolled_back)
    event.listen(engine, "checkin", returned)


def _settle(info: dict[str, Any]) -> None:
    """A commit of facts on this connection ended (its connection begins again or goes back
    to the pool): values read from now on may be kept."""
    changes = info.pop(_COMMITTING, None)
    if changes:
        with _lock:
            for change in changes:
                left = _committing.get(change, 0) - 1
                if left > 0:
                    _committing[change] = left
                else:
                    _committing.pop(change, None)
        committed(changes)  # after the commit: what was read during it is forgotten too


def _wrote(info: dict[str, Any], tables: frozenset[str], scope: int | None) -> bool:
    """Whether the connection's transaction changed what a value of ``tables`` (of mine
    ``scope``) is read from: it reads its own changes from the database, not the cache.
    Its changes of other mines' rows of a ``SCOPED`` table are not read by the value."""
    wrote = info.get(_WROTE, _EMPTY) & tables
    if not wrote:
        return False
    if scope is None:
        return True
    return any(
        table == _ALL or (table in wrote and mine in (None, scope))
        for table, mine in info.get(_CHANGES, frozenset())
    )


#: a transaction that changed the rows of more mines of a table than this changed it whole
#: (one announcement instead of one a mine, each of which looks through every cache)
MAX_MINES_ANNOUNCED = 32


def _collapsed(changes: frozenset[Change]) -> frozenset[Change]:
    counts = Counter(table for table, mine in changes if mine is not None)
    many = {table for table, count in counts.items() if count > MAX_MINES_ANNOUNCED}
    if not many:
        return changes
    return frozenset((table, None) if table in many else (table, mine) for table, mine in changes)


def _changes(info: dict[str, Any], table: str, params: Any) -> frozenset[Change]:
    """What a statement writing ``table`` changes: of a ``SCOPED`` table, the rows of the
    mines a flush of the ORM writes (``_flushing``) or the statement's ``mine_id``
    parameters name; otherwise, or when they are not known, the whole table."""
    if table not in SCOPED:
        return frozenset({(table, None)})
    mines = info.get(_FLUSHING, {}).get(table)
    if mines is None:
        rows = params if isinstance(params, list | tuple) else [params]
        found = [row.get("mine_id") if isinstance(row, dict) else None for row in rows]
        mines = None if not found or None in found else set(found)
    if not mines:
        return frozenset({(table, None)})
    return frozenset((table, mine) for mine in mines)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    """The mines whose rows of the ``SCOPED`` tables this flush writes: the ``mine_id`` of
    the objects it inserts, updates and deletes (one without: the whole table)."""
    mines: dict[str, set[int]] = {}
    whole: set[str] = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        table = getattr(getattr(instance, "__table__", None), "name", None)
        if table not in SCOPED:
            continue
        mine_id = getattr(instance, "mine_id", None)
        if isinstance(mine_id, int):
            mines.setdefault(table, set()).add(mine_id)
        else:
            whole.add(table)
    for table in whole:
        mines.pop(table, None)
    if mines:
        connection_of(session).info[_FLUSHING] = mines
        session.info[_FLUSHING] = True


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    if session.info.pop(_FLUSHING, None):
        connection_of(session).info.pop(_FLUSHING, None)


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
