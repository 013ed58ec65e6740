"""Declarative base with a constraint naming convention and exact, zone-aware columns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit integer keys that SQLite still auto-increments (its rowid is INTEGER)
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC, always returned zone-aware (UTC).

    Naive datetimes are refused: a timestamp without an offset is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        #: the instant converted last and its text: a batch's rows share their
        #: ``received_at`` (one tuple, replaced whole, so threads never see half of one)
        last: tuple[datetime | None, str | None] = (None, None)

        def to_text(value: datetime | None) -> str | None:
            # process_bind_param, then the text of SQLite's DATETIME in its default storage
            # format ("2026-03-15 04:00:00.000000") without its generic formatting: every
            # instant stored takes it. An instant in UTC already (what the center makes)
            # is its text less the "+00:00".
            nonlocal last
            if value is None:
                return None
            known, text = last
            if value is known:
                return text
            if value.tzinfo is UTC:
                text = value.isoformat(" ", "microseconds")[:-6]
            else:
                utc = self.process_bind_param(value, dialect)
                assert utc is not None
                text = utc.isoformat(" ", "microseconds")
            last = (value, text)
            return text

        return to_text

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
