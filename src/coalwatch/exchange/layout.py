"""The collection files' layout 数据采集文件格式: names, header, separators, field order and
codes, read from a TOML mapping (``layout.toml`` beside this module, or a province's copy).

Pure: turns rows (field name → text) into a file's bytes and a file's bytes back into
rows; no database, no clock.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from coalwatch.errors import Invalid

DEFAULT_LAYOUT = Path(__file__).with_name("layout.toml")

KINDS = ("parameters", "realtime", "cumulative", "statistics", "alarms")

#: every field the writer knows, per record kind
FIELDS: dict[str, frozenset[str]] = {
    "header": frozenset({"mine_code", "mine_name", "file_time", "layout_version", "record_count"}),
    "parameters": frozenset(
        {"point_code", "point_name", "point_kind", "unit", "rollover_t", "min_trip_t"}
    ),
    "realtime": frozenset(
        {"point_code", "point_kind", "value_time", "total_t", "trip_t", "flow_tph", "conveyor"}
    ),
    "cumulative": frozenset({"period", "period_start", "gross_t", "raw_t", "manual_t"}),
    "statistics": frozenset(
        {"point_code", "window_start", "window_end", "gross_t", "max_flow_tph", "samples"}
    ),
    "alarms": frozenset(
        {
            "alarm_id",
            "alarm_type",
            "point_code",
            "severity",
            "start",
            "end",
            "value",
            "threshold",
            "state",
        }
    ),
}
#: fields a reader cannot do without
REQUIRED: dict[str, tuple[str, ...]] = {
    "header": ("mine_code", "file_time"),
    "parameters": ("point_code", "point_kind"),
    "realtime": ("point_code", "value_time"),
}
CODE_TABLES = ("point_kinds", "periods", "conveyor", "alarm_states", "alarm_types")
#: characters a text field may not carry, and what is written instead
_REPLACE = {";": "；", "~": "～", "\r": " ", "\n": " "}
NAME = re.compile(r"^(?P<mine>.+)_(?P<kind>[A-Za-z0-9]+)_(?P<time>\d{14})(?P<suffix>\.\w+)?$")


@dataclass(frozen=True)
class Layout:
    version: str
    suffix: str
    field_separator: str
    record_end: str
    time_format: str
    kinds: dict[str, str]
    fields: dict[str, tuple[str, ...]]
    codes: dict[str, dict[str, str]]

    def code(self, table: str, value: str) -> str:
        codes = self.codes[table]
        return codes.get(value, codes.get("other", value))

    def decode(self, table: str, code: str) -> str:
        for value, known in self.codes[table].items():
            if known == code:
                return value
        raise Invalid(f"unknown {table} code {code!r}")

    def kind_of_code(self, code: str) -> str | None:
        return next((k for k, c in self.kinds.items() if c == code), None)

    def file_name(self, mine_code: str, kind: str, at: datetime, tz: ZoneInfo) -> str:
        return f"{mine_code}_{self.kinds[kind]}_{at.astimezone(tz):%Y%m%d%H%M%S}{self.suffix}"

    def time(self, at: datetime | None, tz: ZoneInfo) -> str:
        return "" if at is None else at.astimezone(tz).strftime(self.time_format)

    def parse_time(self, text: str, tz: ZoneInfo) -> datetime:
        try:
            return datetime.strptime(text, self.time_format).replace(tzinfo=tz)
        except ValueError:
            raise Invalid(f"{text!r} is not a time in the form {self.time_format}") from None

    def render(
        self, header: Mapping[str, str], kind: str, rows: Sequence[Mapping[str, str]]
    ) -> str:
        """The file's text: the header record, then one record per row."""
        head = dict(header, record_count=str(len(rows)), layout_version=self.version)
        lines = [self._record("header", head)]
        lines.extend(self._record(kind, row) for row in rows)
        return "".join(f"{line}{self.record_end}\n" for line in lines)

    def _record(self, kind: str, row: Mapping[str, str]) -> str:
        return self.field_separator.join(_clean(row.get(f, "")) for f in self.fields[kind])

    def parse(self, kind: str, text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
        """The header and the rows of a file's text; a record with the wrong number of
        fields, or a missing header, is refused with its position."""
        records = [r.strip() for r in text.split(self.record_end)]
        if records and records[-1] == "":
            records.pop()
        if not records:
            raise Invalid("the file is empty: no header record")
        header = self._fields_of("header", records[0], 1)
        rows = [self._fields_of(kind, r, n) for n, r in enumerate(records[1:], start=2)]
        count = header.get("record_count")
        if count not in (None, "") and count != str(len(rows)):
            raise Invalid(f"the header announces {count} records, the file holds {len(rows)}")
        return header, rows

    def _fields_of(self, kind: str, record: str, number: int) -> dict[str, str]:
        names = self.fields[kind]
        values = record.split(self.field_separator)
        if len(values) != len(names):
            raise Invalid(
                f"record {number} has {len(values)} fields, the layout of {kind} has "
                f"{len(names)} ({self.field_separator.join(names)})"
            )
        return dict(zip(names, (v.strip() for v in values), strict=True))


def _clean(text: str) -> str:
    for bad, good in _REPLACE.items():
        text = text.replace(bad, good)
    return text


def load_layout(path: Path | None = None) -> Layout:
    """The layout of ``path`` (default: the one shipped); a mistake in a province's copy
    is refused with what is wrong."""
    where = path or DEFAULT_LAYOUT
    try:
        data = tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"the exchange layout {where} cannot be read: {exc}") from None
    try:
        return _layout(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"the exchange layout {where} is not valid: {exc}") from None


def _layout(data: dict[str, Any]) -> Layout:
    kinds = {k: str(data["kinds"][k]) for k in KINDS}
    if len(set(kinds.values())) != len(kinds):
        raise ValueError("two file kinds have one code")
    fields: dict[str, tuple[str, ...]] = {}
    for kind, known in FIELDS.items():
        names = tuple(str(n) for n in data["fields"][kind])
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"fields.{kind}: unknown field(s) {', '.join(unknown)}")
        if len(set(names)) != len(names):
            raise ValueError(f"fields.{kind}: a field is named twice")
        missing = [n for n in REQUIRED.get(kind, ()) if n not in names]
        if missing:
            raise ValueError(f"fields.{kind}: needs {', '.join(missing)}")
        fields[kind] = names
    codes = {t: {str(k): str(v) for k, v in data[t].items()} for t in CODE_TABLES}
    for table, values in codes.items():
        if len(set(values.values())) != len(values):
            raise ValueError(f"{table}: two values have one code")
    separator, end = str(data["field_separator"]), str(data["record_end"])
    if not separator or not end or separator == end:
        raise ValueError("field_separator and record_end must be two different characters")
    return Layout(
        version=str(data["version"]),
        suffix=str(data.get("suffix", ".txt")),
        field_separator=separator,
        record_end=end,
        time_format=str(data["time_format"]),
        kinds=kinds,
        fields=fields,
        codes=codes,
    )
