"""The collection files in: another vendor's mine system's files, verified and accounted
as the records of a virtual station 虚拟主站 of the mine, through the same ingest as a
real station's signed upload (the same checks, limits, rollups and alarms).

- parameter files define the mine's points that do not exist yet;
- real-time files bring the readings: a belt's totalizer (and flow), a trip's net
  weight, the conveyor's state, each at its ``value_time``; a reading repeated by the
  next file (nothing new came) counts once;
- cumulative, statistics and alarm files are verified and kept in the import ledger:
  this center computes its figures from the readings and raises its own alarms.

Each file is one transaction: its records, the virtual station's state and its line in
the import ledger are committed together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.errors import CoalwatchError, Invalid
from coalwatch.exchange import repository
from coalwatch.exchange.layout import NAME, Layout
from coalwatch.exchange.virtual import IMPORTER, account, refuse_own_stations, virtual_station
from coalwatch.ingest.service import IngestLimits
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import PointIn
from coalwatch.storage.models import Mine, Station
from coalwatch.storage.session import transaction

log = logging.getLogger("coalwatch.exchange")


class Later(CoalwatchError):
    """The file cannot be taken yet (its mine or points are not known here): it stays
    where it is and is tried again next round."""


@dataclass
class Imported:
    name: str
    records: int = 0
    error: str | None = None
    later: str | None = None


def _tonnes(text: str, field: str) -> Decimal | None:
    if text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Invalid(f"{field} {text!r} is not a number") from None
    if not value.is_finite():
        raise Invalid(f"{field} {text!r} is not a number")
    return value


class Reader:
    def __init__(self, layout: Layout, encoding: str, limits: IngestLimits) -> None:
        self.layout, self.encoding, self.limits = layout, encoding, limits

    def import_directory(
        self, sessions: sessionmaker[Session], directory: Path, now: datetime
    ) -> list[Imported]:
        """Every file of ``directory`` not read yet, in the order of their times."""
        outcomes: list[Imported] = []
        paths = directory.iterdir() if directory.is_dir() else iter(())
        with transaction(sessions) as session:
            done = repository.imported_names(session)
        for path in _files_in_time_order(paths, self.layout.kinds["parameters"]):
            if path.name in done:
                continue
            outcome = self.import_file(sessions, path, now)
            outcomes.append(outcome)
        return outcomes

    def import_file(self, sessions: sessionmaker[Session], path: Path, now: datetime) -> Imported:
        outcome = Imported(path.name)
        try:
            with transaction(sessions) as session:
                mine_code, records = self._take(session, path, now)
                outcome.records = records
                repository.add_import(
                    session, name=path.name, mine_code=mine_code, records=records, imported_at=now
                )
        except Later as exc:
            outcome.later = exc.message
            log.info("collection file %s waits: %s", path.name, exc.message)
        except CoalwatchError as exc:
            outcome.error = exc.message
            log.warning("collection file %s refused: %s", path.name, exc.message)
            with transaction(sessions) as session:
                repository.add_import(
                    session,
                    name=path.name,
                    mine_code=None,
                    records=0,
                    error=exc.message,
                    imported_at=now,
                )
        return outcome

    def _take(self, session: Session, path: Path, now: datetime) -> tuple[str, int]:
        match = NAME.match(path.name)
        if match is None:
            raise Invalid("the name is not <mine>_<kind>_<yyyyMMddHHmmss>")
        kind = self.layout.kind_of_code(match["kind"])
        if kind is None:
            raise Invalid(f"unknown file kind {match['kind']!r}")
        try:
            text = path.read_bytes().decode(self.encoding)
        except UnicodeDecodeError:
            raise Invalid(f"the file is not {self.encoding} text") from None
        header, rows = self.layout.parse(kind, text)
        if header["mine_code"] != match["mine"]:
            raise Invalid(
                f"the header names mine {header['mine_code']!r}, the file name {match['mine']!r}"
            )
        mine = repository.mine_by_code(session, match["mine"])
        if mine is None:
            raise Later(f"mine {match['mine']!r} is not registered at this center")
        refuse_own_stations(session, mine)
        tz = ZoneInfo(mine.timezone)
        self.layout.parse_time(header["file_time"], tz)
        if kind == "parameters":
            return mine.code, self._define_points(session, mine, rows, now)
        if kind == "realtime":
            return mine.code, self._readings(session, mine, rows, tz, now)
        return mine.code, 0  # verified above, kept in the ledger

    def _define_points(
        self, session: Session, mine: Mine, rows: list[dict[str, str]], now: datetime
    ) -> int:
        known = {p.code for p in repository.points(session, mine.id)}
        created = 0
        for row in rows:
            if row["point_code"] in known:
                continue
            data: dict[str, Any] = {
                "code": row["point_code"],
                "name": row.get("point_name") or row["point_code"],
                "kind": self.layout.decode("point_kinds", row["point_kind"]),
            }
            for field in ("rollover_t", "min_trip_t"):
                value = _tonnes(row.get(field, ""), field)
                if value is not None:
                    data[field] = value
            try:
                point = PointIn.model_validate(data)
            except ValueError as exc:
                raise Invalid(f"point {row['point_code']!r}: {exc}") from None
            mines.create_point(session, IMPORTER, mine.code, point, now)
            created += 1
        return created

    def _readings(
        self,
        session: Session,
        mine: Mine,
        rows: list[dict[str, str]],
        tz: ZoneInfo,
        now: datetime,
    ) -> int:
        known = {p.code for p in repository.points(session, mine.id)}
        station = virtual_station(session, mine, now)
        records: list[dict[str, Any]] = []
        for row in rows:
            point = row["point_code"]
            if point not in known:
                raise Later(f"point {point!r} is not defined yet (its parameter file comes first)")
            ts = self.layout.parse_time(row["value_time"], tz)
            total = _tonnes(row.get("total_t", ""), "total_t")
            trip = _tonnes(row.get("trip_t", ""), "trip_t")
            flow = _tonnes(row.get("flow_tph", ""), "flow_tph")
            if total is not None and self._new(session, station, point, "totalizer", ts):
                record: dict[str, Any] = {
                    "ts": ts,
                    "type": "totalizer",
                    "point": point,
                    "total_t": total,
                }
                if flow is not None:
                    record["flow_tph"] = flow
                records.append(record)
            if trip is not None and self._new(session, station, point, "trip", ts):
                records.append({"ts": ts, "type": "trip", "point": point, "net_t": trip})
            state = row.get("conveyor", "")
            if state and self._new(session, station, point, "conveyor", ts):
                running = self.layout.decode("conveyor", state) == "running"
                records.append({"ts": ts, "type": "conveyor", "point": point, "running": running})
        return account(session, mine, records, now, self.limits)

    def _new(self, session: Session, station: Station, point: str, kind: str, ts: datetime) -> bool:
        """A reading later than the last one taken (and then it is the last one)."""
        last = repository.reading(session, station.id, point, kind)
        if last is not None and ts <= last.ts:
            return False
        repository.set_reading(session, station.id, point, kind, ts)
        return True


def _files_in_time_order(paths: Iterable[Path], parameters: str) -> list[Path]:
    """Collection files (not hidden, not partial) by their time, then name: a parameter
    file before the real-time file of the same second."""
    found = []
    for path in paths:
        match = NAME.match(path.name)
        if path.name.startswith(".") or path.name.endswith(".part") or not path.is_file():
            continue
        if match is None:
            found.append((("", 9), path))
            continue
        order = 0 if match["kind"] == parameters else 1
        found.append(((match["time"], order), path))
    return [p for _, p in sorted(found, key=lambda item: (item[0], item[1].name))]
