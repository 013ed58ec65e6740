"""The station's outbox 本地存储: every record numbered and on disk before anything else.

SQLite in WAL mode with ``synchronous=FULL``: when a commit returns, the
records are on disk. A record's ``seq`` is assigned in the transaction that
stores it, together with the device state that explains it (last trip
counter, conveyor / door / power state, parameter fingerprint, last
totalizer), so a crash at any instant leaves both or neither: a trip is never
emitted twice, nor lost. Records leave only when the center acknowledged them.

A full disk makes ``append`` raise ``OutboxFull`` and leaves what is stored as
it was. A file found corrupt on opening is moved aside (``<name>.corrupt-<UTC
time>``) and a new one started; its seqs are unknown until the center says how
far it holds this station (``SEQ_FROM_CENTER``), so nothing is sent as a seq
the center already took.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
LAST_SEQ = "last_seq"
ACKED_SEQ = "acked_seq"
#: set in an outbox started after a corrupt one: ask the center for its seq before sending
SEQ_FROM_CENTER = "seq_from_center"
#: SQLite's answers for a file that is not (or no longer) a database
_CORRUPT = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class OutboxFull(Exception):
    """The disk (or the outbox's size limit) is full: nothing of the append was stored."""


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        # a JSON number goes through float; tonnes to 1 kg below 10^12 t survive exactly
        number = float(value)
        if Decimal(repr(number)) != value:
            raise ValueError(f"{value} cannot be stored exactly as a JSON number")
        return number
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def dumps(value: Any) -> str:
    """JSON text of a record or a state value (Decimals as exact numbers)."""
    return json.dumps(value, default=_number, separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> Any:
    """The value back, every non-integer number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """What the station's status shows about its outbox."""

    records: int
    oldest_ts: datetime | None
    last_seq: int
    acked_seq: int
    file_bytes: int

    def oldest_age_s(self, now: datetime) -> float | None:
        return None if self.oldest_ts is None else (now - self.oldest_ts).total_seconds()


class Outbox:
    """Records waiting for the center's acknowledgement, and the station's durable state.

    Used from one thread (the agent's event loop); ``station status`` opens its own.
    """

    def __init__(self, path: Path, *, repair: bool = True) -> None:
        """``repair``: check the file and move a corrupt one aside (the agent does; a
        reader such as ``station status`` passes False and gets the error instead)."""
        self.path = path
        #: where a corrupt file found on opening was moved (None: the file was sound)
        self.moved_aside: Path | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open(check=repair and path.exists())
        except sqlite3.DatabaseError as exc:
            if not repair or exc.sqlite_errorcode not in _CORRUPT:
                raise
            self.moved_aside = self._move_aside()
            self._db = self._open(check=False)
            with self._transaction() as db:
                self._put(db, SEQ_FROM_CENTER, True)
        self._last_seq = int(self._meta(LAST_SEQ) or 0)
        self._seq_from_center = bool(self._meta(SEQ_FROM_CENTER))

    def _open(self, check: bool) -> sqlite3.Connection:
        # autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT)
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives power loss, not only a process crash
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            if check:
                problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    error = sqlite3.DatabaseError(f"quick_check: {'; '.join(problems)}")
                    error.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
                    raise error
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        """The corrupt file (and its WAL) renamed beside itself, with the time in the name."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("-wal", "-shm", ""):
            source = self.path.with_name(self.path.name + suffix)
            if source.exists():
                source.rename(target.with_name(target.name + suffix))
        return target

    @property
    def seq_from_center(self) -> bool:
        """True until the center has said which seqs it holds (after a corrupt outbox)."""
        return self._seq_from_center

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
                raise OutboxFull(f"{self.path}: {exc}") from exc
            raise

    def _meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else loads(row[0])

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def append(
        self, records: Sequence[Mapping[str, Any]], state: Mapping[str, Any] | None = None
    ) -> list[int]:
        """Number and store records with the state they explain, in one transaction.

        ``records`` carry everything but ``seq`` (``ts`` as ISO text); a state
        value of None deletes its key. Returns the seqs given.
        """
        first = self._last_seq + 1
        rows = [(first + i, r["ts"], dumps(dict(r))) for i, r in enumerate(records)]
        last = first + len(rows) - 1
        with self._transaction() as db:
            if rows:
                db.executemany("INSERT INTO records (seq, ts, body) VALUES (?, ?, ?)", rows)
                self._put(db, LAST_SEQ, last)
            for key, value in (state or {}).items():
                self._put(db, key, value)
        if rows:
            self._last_seq = last
        return [row[0] for row in rows]

    @staticmethod
    def _put(db: sqlite3.Connection, key: str, value: Any) -> None:
        if value is None:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, dumps(value)),
            )

    def set_state(self, values: Mapping[str, Any]) -> None:
        self.append([], values)

    def state(self, key: str) -> Any:
        return self._meta(key)

    def states(self, prefix: str) -> dict[str, Any]:
        """Every state value whose key starts with ``prefix``."""
        rows = self._db.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        ).fetchall()
        return {key: loads(value) for key, value in rows}

    def pending(self, limit: int) -> list[dict[str, Any]]:
        """The oldest records not yet acknowledged (gaps the center reported come first)."""
        rows = self._db.execute(
            "SELECT seq, body FROM records ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [{"seq": seq, **loads(body)} for seq, body in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])

    def held(self, first: int, last: int) -> int:
        """How many seqs of [first, last] the outbox still holds."""
        row = self._db.execute(
            "SELECT count(*) FROM records WHERE seq BETWEEN ? AND ?", (first, last)
        ).fetchone()
        return int(row[0])

    def acknowledge(self, acked_seq: int, gaps: Sequence[tuple[int, int]]) -> int:
        """Delete what the center holds: seq ≤ acked_seq outside its gaps. Returns the count."""
        keep = sorted((a, b) for a, b in gaps if a <= acked_seq)
        ranges: list[tuple[int, int]] = []
        start = 1
        for a, b in keep:
            if a > start:
                ranges.append((start, a - 1))
            start = max(start, b + 1)
        if start <= acked_seq:
            ranges.append((start, acked_seq))
        deleted = 0
        with self._transaction() as db:
            for a, b in ranges:
                deleted += db.execute(
                    "DELETE FROM records WHERE seq BETWEEN ? AND ?", (a, b)
                ).rowcount
            previous = int(self._meta(ACKED_SEQ) or 0)
            self._put(db, ACKED_SEQ, max(previous, acked_seq))
        return deleted

    def renumber_after(self, center_seq: int) -> int:
        """Give every held record a new seq above ``center_seq``, in order, without holes.

        For a station whose outbox was replaced (a new disk): the center already
        holds seqs up to ``center_seq`` and would take ours as duplicates.
        """
        with self._transaction() as db:
            seqs = [row[0] for row in db.execute("SELECT seq FROM records ORDER BY seq")]
            # through negative numbers: an UPDATE of a primary key must not collide midway
            db.executemany(
                "UPDATE records SET seq = ? WHERE seq = ?",
                [(-(center_seq + 1 + i), seq) for i, seq in enumerate(seqs)],
            )
            db.execute("UPDATE records SET seq = -seq WHERE seq < 0")
            last = center_seq + len(seqs)
            self._put(db, LAST_SEQ, last)
            self._put(db, ACKED_SEQ, center_seq)
            self._put(db, SEQ_FROM_CENTER, None)
        self._last_seq = last
        self._seq_from_center = False
        return len(seqs)

    def stats(self) -> OutboxStats:
        count, oldest = self._db.execute(
            "SELECT count(*), (SELECT ts FROM records ORDER BY seq LIMIT 1) FROM records"
        ).fetchone()
        size = sum(
            p.stat().st_size
            for p in (self.path, self.path.with_name(self.path.name + "-wal"))
            if p.exists()
        )
        return OutboxStats(
            records=int(count),
            oldest_ts=datetime.fromisoformat(oldest) if oldest else None,
            last_seq=self._last_seq,
            acked_seq=int(self._meta(ACKED_SEQ) or 0),
            file_bytes=size,
        )
