"""The statements every ingested batch runs, compiled once and run on the driver's cursor.

``Connection.execute`` of a Core statement looks its SQL up in the compiled cache,
processes the parameters through the compiled form, wraps the cursor in a result and
makes a row object of every row: for a statement of a few rows this costs more than the
driver and the database together. ``Hot`` keeps, per dialect, the SQL and the column
types' bind and result processors (what makes a stored UTC instant zone-aware, and
refuses a naive one), and ``rows`` / ``run`` / ``run_many`` execute it on the
connection's DBAPI cursor, as ``exec_driver_sql`` does, with the rest of what
``execute`` does kept: the engine's cursor events run (the database watchdog, the fact
cache's bookkeeping, the benchmarks' counters) and a driver error is raised as
SQLAlchemy raises it (a lost connection invalidated, ``OperationalError``), which the
committer's retry rules read.

For statements with plain bind parameters only (no expanding ``IN`` lists): their SQL
is the same for every execution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]
Params = Mapping[str, Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: the bind parameters in the order the SQL takes them, each with its processor
    binds: tuple[tuple[str, Processor | None], ...]
    #: a positional paramstyle (SQLite's ``?``) takes a tuple, a named one a dict
    positional: bool
    #: the values the statement holds itself (a literal compared with: ``x == "conveyor"``)
    values: dict[str, Any]
    #: (position, processor) of the result columns that have a processor (None: none
    #: has one, the rows as the driver returns them)
    results: tuple[tuple[int, Processor], ...] | None
    #: the bind parameters' values in their order, taken from a mapping at once
    take: Callable[[Params], tuple[Any, ...]]
    #: (position, processor) of the bind parameters that have a processor
    processed: tuple[tuple[int, Processor], ...]

    def parameters(self, params: Params) -> Any:
        if self.values:
            params = {**self.values, **params}
        values = self.take(params)
        if self.processed:
            values = list(values)  # type: ignore[assignment]
            for i, process in self.processed:
                values[i] = process(values[i])  # type: ignore[index]
        if self.positional:
            return tuple(values)
        return dict(zip((name for name, _ in self.binds), values, strict=True))

    def row(self, row: Sequence[Any]) -> tuple[Any, ...]:
        assert self.results is not None
        values = list(row)
        for i, process in self.results:
            value = values[i]
            if value is not None:
                values[i] = process(value)
        return tuple(values)


class Hot:
    """A Core statement of plain bind parameters, compiled once per dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.paramstyle)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self.statement, dialect)
        return found


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    binds = compiled.binds
    if any(b.expanding or b.literal_execute for b in binds.values()):
        raise ValueError("a hot statement takes plain bind parameters only")
    order = compiled.positiontup
    positional = order is not None
    names = list(order) if order is not None else list(binds)

    def bind_processor(name: str) -> Processor | None:
        return binds[name].type.dialect_impl(dialect).bind_processor(dialect)

    # the columns a select or a RETURNING gives (none: a text statement's rows as they are)
    columns = getattr(statement, "exported_columns", ())
    processors = tuple(
        c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
    )
    results = tuple((i, p) for i, p in enumerate(processors) if p is not None) or None
    binding = [bind_processor(name) for name in names]
    return _Compiled(
        sql=compiled.string,
        binds=tuple(zip(names, binding, strict=True)),
        positional=positional,
        values={n: b.effective_value for n, b in binds.items() if not b.required},
        results=results,
        take=_taker(names),
        processed=tuple((i, p) for i, p in enumerate(binding) if p is not None),
    )


def _taker(names: Sequence[str]) -> Callable[[Params], tuple[Any, ...]]:
    """What takes the values of ``names`` from a mapping, as a tuple, in one call."""
    if not names:
        return lambda _: ()
    getter = itemgetter(*names)
    if len(names) == 1:
        return lambda params: (getter(params),)
    return getter


def pg_array(values: Iterable[int | date | None]) -> str:
    """A PostgreSQL array literal of whole numbers, booleans, dates and zone-aware instants
    (ISO 8601), for a parameter the statement casts to its array type (``CAST(:x AS
    bigint[])``). psycopg adapts a Python list by looking through it for the type of its
    elements, for every list of every statement (its adapters are per cursor): for a few
    small arrays that costs more than the rest of the statement's parameters, where text
    costs nothing to adapt and PostgreSQL parses it as it would the list."""
    return "{" + ",".join([str(v) if type(v) is int else _array_element(v) for v in values]) + "}"


def _array_element(value: int | date | None) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: an instant needs its zone")
    if isinstance(value, date):
        return value.isoformat()
    return str(int(value))


def rows(connection: Connection, hot: Hot, params: Params | None = None) -> list[tuple[Any, ...]]:
    """The rows the statement returns, each a tuple of processed values."""
    compiled = hot.compiled(connection.dialect)
    cursor = _execute(connection, compiled, compiled.parameters(params or {}), many=False)
    try:
        found: list[tuple[Any, ...]] = cursor.fetchall()  # the drivers' rows are tuples
        if compiled.results is None:
            return found
        return [compiled.row(row) for row in found]
    finally:
        cursor.close()


def run(connection: Connection, hot: Hot, params: Params) -> None:
    """Execute a statement that returns no rows."""
    compiled = hot.compiled(connection.dialect)
    _execute(connection, compiled, compiled.parameters(params), many=False).close()


def run_many(connection: Connection, hot: Hot, params: Sequence[Params]) -> None:
    """Execute a statement that returns no rows once per parameter set (``executemany``)."""
    if not params:
        return
    compiled = hot.compiled(connection.dialect)
    values = [compiled.parameters(p) for p in params]
    _execute(connection, compiled, values, many=True).close()


def _execute(connection: Connection, compiled: _Compiled, parameters: Any, *, many: bool) -> Any:
    """What ``Connection._cursor_execute`` does, for one statement or many."""
    statement = compiled.sql
    cursor = connection.connection.cursor()
    try:
        for listener in connection.dispatch.before_cursor_execute:
            statement, parameters = listener(connection, cursor, statement, parameters, None, many)
        if many:
            cursor.executemany(statement, parameters)
        else:
            cursor.execute(statement, parameters)
        connection.dispatch.after_cursor_execute(
            connection, cursor, statement, parameters, None, many
        )
    except BaseException as error:
        # raises SQLAlchemy's exception for it, after invalidating a lost connection
        connection._handle_dbapi_exception(error, statement, parameters, cursor, None)
    return cursor
