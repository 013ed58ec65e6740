"""All SQL of ingest: station state, records, quarantine, totalizer neighbours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from coalwatch.integrity.models import SignedBatch
from coalwatch.storage import driver
from coalwatch.storage.connections import connection_of
from coalwatch.storage.driver import Hot, pg_array
from coalwatch.storage.models import (
    Mine,
    Org,
    Point,
    QuarantinedRecord,
    Record,
    Station,
    StationGap,
)
from coalwatch.storage.rows import DetachedRows
from coalwatch.storage.session import core


def station_for_update(session: Session, code: str) -> Station | None:
    """The station row, locked for this transaction: one batch of a station at a time.

    Locked as a change of its other columns (``FOR NO KEY UPDATE``), not of its key: a
    transaction that only refers to the station (an alarm or fault of it raised by the
    timed rules, which go on through every mine before they commit) holds a key share,
    which this lock does not wait for; another batch of the station does."""
    return session.scalars(
        select(Station).where(Station.code == code).with_for_update(key_share=True)
    ).first()


def station_for_batch(
    session: Session, code: str
) -> tuple[Station, Mine, Org, bool, dict[str, Point]] | None:
    """The station row, read with its mine, the mine's org, whether it has gaps
    (``gaps_of``) and the mine's points by code, in one query; the station's row and the
    points' locked for this transaction as ``station_for_update`` locks the station (in
    that order, the points by id: no deadlock). A batch's totalizer readings change the
    points' state. SQLite has one writer at a time already (``BEGIN IMMEDIATE``).

    Read as plain rows (Core) and returned as detached objects (``storage.rows``), not through
    the ORM's loading: values to read, written back by the batch with Core statements
    (``save_states``). Each batch reads them afresh, so several batches of a
    station in one transaction each see what the one before wrote."""
    found = driver.rows(core(session), _STATION_FOR_BATCH, {"code": code})
    if not found:
        return None
    first = found[0]
    station, rest = _STATION.make(first, 0)
    mine, rest = _MINE.make(first, rest)
    org, rest = _ORG.make(first, rest)
    has_gaps = bool(first[rest])
    points: dict[str, Point] = {}
    if first[rest + 1] is not None:  # the mine has points
        for row in found:
            point = _POINT.make(row, rest + 1)[0]
            points[point.code] = point
    return station, mine, org, has_gaps, points


_STATION, _MINE, _ORG, _POINT = (
    DetachedRows(Station),
    DetachedRows(Mine),
    DetachedRows(Org),
    DetachedRows(Point),
)


def _labelled(prefix: str, columns: Sequence[Any]) -> list[Any]:
    return [column.label(f"{prefix}_{column.key}") for column in columns]


# The statements run for every batch are built once, here: building a statement costs
# more than running a small one (SQLAlchemy caches the SQL, not the statement objects).
_LOCATED = (
    select(
        *_labelled("s", _STATION.columns),
        *_labelled("m", _MINE.columns),
        *_labelled("o", _ORG.columns),
        exists().where(StationGap.station_id == Station.id).label("has_gaps"),
    )
    .join(Mine, Mine.id == Station.mine_id)
    .join(Org, Org.id == Mine.org_id)
    .where(Station.code == bindparam("code"))
    .with_for_update(of=Station.__table__, key_share=True)
    .cte("located")
)
_HELD = (
    select(*_labelled("p", _POINT.columns))
    .where(Point.mine_id == select(_LOCATED.c.s_mine_id).scalar_subquery())
    .order_by(Point.id)
    .with_for_update(key_share=True)
    .cte("held")
)
_STATION_FOR_BATCH = Hot(
    select(*_LOCATED.c, *_HELD.c)
    .select_from(_LOCATED.outerjoin(_HELD, true()))
    .order_by(_HELD.c.p_id)
)
_POINTS_OF_MINE = select(Point).where(Point.mine_id == bindparam("mine_id")).order_by(Point.id)
_GAPS_OF = (
    select(StationGap.seq_from, StationGap.seq_to)
    .where(StationGap.station_id == bindparam("station_id"))
    .order_by(StationGap.seq_from)
)


def points_of_mine(session: Session, mine_id: int) -> dict[str, Point]:
    return {p.code: p for p in session.scalars(_POINTS_OF_MINE, {"mine_id": mine_id})}


#: a point's state as its batches leave it: the totalizer's last reading, when the center
#: last received a sample of it, and its conveyor's last record
_POINT_STATE = (
    "last_total_ts",
    "last_total_seq",
    "last_total_kg",
    "last_flow_kgph",
    "last_sample_received_at",
    "last_conveyor_ts",
    "last_conveyor_seq",
    "last_conveyor_running",
)
_STATION_STATE = ("max_seq", "last_seen_at", "last_sent_at")
_ARRAY_TYPES = {
    "last_total_ts": "timestamptz",
    "last_total_seq": "bigint",
    "last_total_kg": "bigint",
    "last_flow_kgph": "bigint",
    "last_sample_received_at": "timestamptz",
    "last_conveyor_ts": "timestamptz",
    "last_conveyor_seq": "bigint",
    "last_conveyor_running": "boolean",
}


def _state_update(table: Any, columns: tuple[str, ...]) -> Any:
    return (
        update(table)
        .where(table.c.id == bindparam("id_"))
        .values({name: bindparam(f"{name}_") for name in columns})
    )


_UPDATE_POINTS = Hot(_state_update(Point.__table__, _POINT_STATE))
_UPDATE_STATION = Hot(_state_update(Station.__table__, _STATION_STATE))
#: PostgreSQL: the points' states (arrays of them) and the station's state in one
#: statement, both rows locked by the batch already
_UPDATE_STATES_PG = Hot(
    text(
        f"""
WITH moved AS (
    UPDATE points SET {", ".join(f"{name} = u.{name}" for name in _POINT_STATE)}
    FROM unnest(
        CAST(:ids AS integer[]),
        {", ".join(f"CAST(:{name} AS {_ARRAY_TYPES[name]}[])" for name in _POINT_STATE)}
    ) AS u(id, {", ".join(_POINT_STATE)})
    WHERE points.id = u.id
    RETURNING 1
)
UPDATE stations SET max_seq = :max_seq_, last_seen_at = :last_seen_at_,
    last_sent_at = :last_sent_at_
WHERE id = :id_
"""
    )
)


def save_states(
    session: Session,
    station: Station,
    points: Sequence[Point],
    max_seq: int,
    seen_at: datetime,
    sent_at: datetime,
) -> None:
    """Write the station's sequence state and times, and the state of these points (their
    attributes as the batch left them: ``ingest.service._move_last`` and
    ``_conveyor_moved``, with when a sample of each was last received); on PostgreSQL in
    one statement. Beside the ORM: the objects stay as the database now holds them,
    nothing to flush."""
    values = {"max_seq": max_seq, "last_seen_at": seen_at, "last_sent_at": sent_at}
    station_params = {"id_": station.id, **{f"{n}_": v for n, v in values.items()}}
    connection = core(session)
    if connection.dialect.name == "postgresql" and points:
        driver.run(
            connection,
            _UPDATE_STATES_PG,
            {
                **station_params,
                "ids": pg_array(point.id for point in points),
                **{
                    name: pg_array(getattr(point, name) for point in points)
                    for name in _POINT_STATE
                },
            },
        )
    else:
        driver.run_many(
            connection,
            _UPDATE_POINTS,
            [
                {"id_": point.id, **{f"{name}_": getattr(point, name) for name in _POINT_STATE}}
                for point in points
            ],
        )
        driver.run(connection, _UPDATE_STATION, station_params)
    for name, value in values.items():
        set_committed_value(station, name, value)


def gaps_of(session: Session, station_id: int) -> list[tuple[int, int]]:
    rows = core(session).execute(_GAPS_OF, {"station_id": station_id})
    return [(int(a), int(b)) for a, b in rows]


def replace_gaps(
    session: Session, mine_id: int, station_id: int, gaps: Sequence[tuple[int, int]]
) -> None:
    session.execute(delete(StationGap).where(StationGap.station_id == station_id))
    if gaps:
        session.execute(
            insert(StationGap),
            [
                {"mine_id": mine_id, "station_id": station_id, "seq_from": a, "seq_to": b}
                for a, b in gaps
            ],
        )


_RECORD_COLUMNS = [c.name for c in Record.__table__.columns if c.name != "id"]
_COPY_RECORDS = f"COPY records ({', '.join(_RECORD_COLUMNS)}) FROM STDIN"
#: a row's values in the COPY's column order
_RECORD_VALUES = itemgetter(*_RECORD_COLUMNS)


def insert_records(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        # Core, not the ORM bulk path: the ORM leaves out None values and starts a
        # new executemany whenever the set of non-None columns changes from one row
        # to the next (~70 statements, ~70 round trips for a batch of 500 mixed records)
        connection = connection_of(session)
        if connection.dialect.name == "postgresql":
            # COPY, in the session's transaction: ~1.5-2x the rows/s of executemany
            psycopg: Any = connection.connection.driver_connection
            with psycopg.cursor() as cursor, cursor.copy(_COPY_RECORDS) as copy:
                for row in rows:
                    copy.write_row(_RECORD_VALUES(row))
        else:
            driver.run_many(core(session), _INSERT_RECORDS, rows)


def keep_signed_batch(
    session: Session, station: Station, body: bytes, signature: str, now: datetime
) -> int:
    ((batch_id,),) = driver.rows(
        core(session),
        _KEEP_SIGNED_BATCH,
        {
            "mine_id": station.mine_id,
            "station_id": station.id,
            "body": body,
            "signature": signature,
            "received_at": now,
        },
    )
    assert batch_id is not None
    return int(batch_id)


_KEEP_SIGNED_BATCH = Hot(
    insert(cast(Table, SignedBatch.__table__))
    .values(
        {c: bindparam(c) for c in ("mine_id", "station_id", "body", "signature", "received_at")}
    )
    .returning(SignedBatch.id)
)
_INSERT_RECORDS = Hot(
    insert(cast(Table, Record.__table__)).values({c: bindparam(c) for c in _RECORD_COLUMNS})
)


def insert_quarantined(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(QuarantinedRecord), rows)


StoredSample = tuple[int, int, datetime, int, int, int, str | None, int | None]


def stored_totalizer_window(
    session: Session, mine_id: int, point_id: int, first: tuple[int, int], last: tuple[int, int]
) -> list[StoredSample]:
    """Stored totalizer samples of a point from the one before ``first`` to the one
    after ``last``, keys being (station id, seq) (the order the readings were taken;
    one batch is one station's): (id, station id, ts, seq, value_kg, increment_kg,
    increment_kind, flow_kgph)."""
    columns = (
        Record.id,
        Record.station_id,
        Record.ts,
        Record.seq,
        Record.value_kg,
        Record.increment_kg,
        Record.increment_kind,
        Record.flow_kgph,
    )
    # mine_id first: the unique (mine_id, station_id, seq) index gives the order
    base = select(*columns).where(
        Record.mine_id == mine_id, Record.point_id == point_id, Record.type == "totalizer"
    )
    before = (
        base.where(
            or_(
                Record.station_id < first[0],
                and_(Record.station_id == first[0], Record.seq < first[1]),
            )
        )
        .order_by(Record.station_id.desc(), Record.seq.desc())
        .limit(1)
    )
    after = (
        base.where(
            or_(
                Record.station_id > last[0],
                and_(Record.station_id == last[0], Record.seq > last[1]),
            )
        )
        .order_by(Record.station_id, Record.seq)
        .limit(1)
    )
    inside = base.where(
        Record.station_id == first[0], Record.seq >= first[1], Record.seq <= last[1]
    )
    rows: dict[int, StoredSample] = {}
    for statement in (before, inside, after):
        for row in session.execute(statement):
            rows[row[0]] = (
                int(row[0]),
                int(row[1]),
                row[2],
                int(row[3]),
                int(row[4] or 0),
                int(row[5] or 0),
                row[6],
                None if row[7] is None else int(row[7]),
            )
    return sorted(rows.values(), key=lambda r: (r[1], r[3]))


def update_increments(session: Session, changes: list[dict[str, Any]]) -> None:
    """Set increment_kg / increment_kind of stored records by id."""
    for change in changes:
        session.execute(
            update(Record)
            .where(Record.id == change["id"])
            .values(increment_kg=change["increment_kg"], increment_kind=change["increment_kind"])
        )


def records_of(
    session: Session,
    mine_id: int,
    *,
    type_: str | None,
    point_id: int | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[tuple[Record, str, str | None]]:
    """A mine's records, oldest first, with the station and point codes."""
    query = (
        select(Record, Station.code, Point.code)
        .join(Station, Station.id == Record.station_id)
        .outerjoin(Point, Point.id == Record.point_id)
        .where(Record.mine_id == mine_id)
        .order_by(Record.ts, Record.station_id, Record.seq)
        .limit(limit)
    )
    if type_ is not None:
        query = query.where(Record.type == type_)
    if point_id is not None:
        query = query.where(Record.point_id == point_id)
    if start is not None:
        query = query.where(Record.ts >= start)
    if end is not None:
        query = query.where(Record.ts < end)
    return [(record, station, point) for record, station, point in session.execute(query)]


def quarantined_of(
    session: Session, mine_id: int, limit: int
) -> list[tuple[QuarantinedRecord, str]]:
    query = (
        select(QuarantinedRecord, Station.code)
        .join(Station, Station.id == QuarantinedRecord.station_id)
        .where(QuarantinedRecord.mine_id == mine_id)
        .order_by(QuarantinedRecord.id.desc())
        .limit(limit)
    )
    return [(record, station) for record, station in session.execute(query)]
