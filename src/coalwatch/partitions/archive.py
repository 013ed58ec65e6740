"""The archive file of one month of a raw table 归档文件 (format version 1).

``<table>-<YYYY>-<MM>.jsonl.gz`` (a second archive of the same month, made of records
that arrived after the first was written, is ``...-<MM>.2.jsonl.gz``), gzip-compressed
UTF-8 JSON, one object per line:

1. ``{"format": "coalwatch-raw-archive", "version": 1, "table": ..., "from": ...,
   "to": ..., "columns": [...], "archived_at": ...}`` (instants ISO 8601 with offset);
2. ``{"row": [...]}`` per row, in id order, the values in the order of ``columns``;
3. (records only) ``{"station": {"id", "code", "public_key"}}`` for each station, and
   ``{"batch": {"id", "mine_id", "station_id", "received_at", "signature", "body"}}``
   for each signed upload that brought a row (``body``: base64 of the exact bytes the
   station signed; ``signature``: its Ed25519 signature, base64);
4. ``{"end": {"rows": n, "batches": m, "increment_kg": kg}}``: a file without it was cut.

Beside it ``<file>.sha256`` holds its SHA-256 in the format of ``sha256sum`` (so
``sha256sum -c`` checks it); the same checksum is kept in the database
(``raw_archives``) and ``coalwatch verify`` compares the file with it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

FORMAT = "coalwatch-raw-archive"
VERSION = 1
SUFFIX = ".jsonl.gz"
CHECKSUM_SUFFIX = ".sha256"


class ArchiveDamaged(Exception):
    """The file cannot be read as an archive (cut, not gzip, not this format)."""


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    mine_id: int
    station_id: int
    received_at: datetime
    signature: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Station:
    id: int
    code: str
    public_key: str


@dataclass(frozen=True, slots=True)
class Summary:
    rows: int
    increment_kg: int
    first_id: int | None
    last_id: int | None


@dataclass
class Written:
    file_name: str
    sha256: str
    size_bytes: int
    rows: int = 0
    batches: int = 0
    increment_kg: int = 0
    first_id: int | None = None
    last_id: int | None = None


def file_name(table: str, month: datetime, n: int) -> str:
    return f"{table}-{month:%Y-%m}{'' if n == 1 else f'.{n}'}{SUFFIX}"


def free_name(directory: Path, table: str, month: datetime) -> str:
    n = 1
    while (directory / file_name(table, month, n)).exists():
        n += 1
    return file_name(table, month, n)


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write(
    path: Path,
    *,
    table: str,
    start: datetime,
    end: datetime,
    columns: list[str],
    rows: Iterable[str],
    summary: Summary,
    stations: Iterable[Station],
    batches: Iterable[Batch],
    archived_at: datetime,
) -> Written:
    """Write the archive (through ``<file>.partial``, synced, then renamed) and its
    checksum file; returns what it holds. ``rows`` are the rows as JSON arrays (made by
    the database: the bulk of the file passes through untouched), ``summary`` what
    they add up to."""
    partial = path.with_name(path.name + ".partial")
    written = Written(
        path.name,
        "",
        0,
        increment_kg=summary.increment_kg,
        first_id=summary.first_id,
        last_id=summary.last_id,
    )
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out,
    ):
        out.write(
            _line(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "table": table,
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "columns": columns,
                    "archived_at": archived_at.isoformat(),
                }
            )
        )
        for row in rows:
            out.write(b'{"row":' + row.encode() + b"}\n")
            written.rows += 1
        if written.rows != summary.rows:
            raise ArchiveDamaged(f"{written.rows} rows written of {summary.rows}")
        for station in stations:
            out.write(
                _line(
                    {"station": {"id": station.id, "code": station.code, "key": station.public_key}}
                )
            )
        for batch in batches:
            out.write(
                _line(
                    {
                        "batch": {
                            "id": batch.id,
                            "mine_id": batch.mine_id,
                            "station_id": batch.station_id,
                            "received_at": batch.received_at.isoformat(),
                            "signature": batch.signature,
                            "body": base64.b64encode(batch.body).decode(),
                        }
                    }
                )
            )
            written.batches += 1
        out.write(
            _line(
                {
                    "end": {
                        "rows": written.rows,
                        "batches": written.batches,
                        "increment_kg": written.increment_kg,
                    }
                }
            )
        )
        out.flush()
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, path)
    written.sha256 = sha256_of(path)
    written.size_bytes = path.stat().st_size
    checksum = path.with_name(path.name + CHECKSUM_SUFFIX)
    checksum.write_text(f"{written.sha256}  {path.name}\n")
    return written


@dataclass
class Content:
    """An archive as read back."""

    table: str
    start: datetime
    end: datetime
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    stations: dict[int, Station] = field(default_factory=dict)
    batches: list[Batch] = field(default_factory=list)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                yield json.loads(line)
    except (OSError, EOFError, ValueError) as exc:
        raise ArchiveDamaged(f"{path.name} cannot be read: {exc}") from exc


def read(path: Path) -> Content:
    """The archive's content (rows as dicts, instants parsed), or ArchiveDamaged."""
    lines = _lines(path)
    header = next(lines, None)
    if not header or header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ArchiveDamaged(f"{path.name} is not a {FORMAT} file of version {VERSION}")
    columns = list(header["columns"])
    instants = {"ts", "received_at", "station_ts"}
    content = Content(
        header["table"],
        datetime.fromisoformat(header["from"]),
        datetime.fromisoformat(header["to"]),
        columns,
    )
    end = None
    for line in lines:
        if "row" in line:
            row = dict(zip(columns, line["row"], strict=True))
            for name in instants & row.keys():
                if row[name] is not None:
                    row[name] = datetime.fromisoformat(row[name])
            content.rows.append(row)
        elif "station" in line:
            s = line["station"]
            content.stations[int(s["id"])] = Station(int(s["id"]), s["code"], s["key"])
        elif "batch" in line:
            b = line["batch"]
            content.batches.append(
                Batch(
                    int(b["id"]),
                    int(b["mine_id"]),
                    int(b["station_id"]),
                    datetime.fromisoformat(b["received_at"]),
                    b["signature"],
                    base64.b64decode(b["body"]),
                )
            )
        elif "end" in line:
            end = line["end"]
    if end is None or end.get("rows") != len(content.rows):
        raise ArchiveDamaged(f"{path.name} is cut short: its last line is missing")
    return content
