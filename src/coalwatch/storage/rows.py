"""Rows read with Core and made into detached model objects, without the ORM's loading.

For reads on the hot paths (every batch, every round of the timed rules) of objects
that are only read: the ORM's loading of an object costs more than reading its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm.attributes import instance_state

T = TypeVar("T")


class DetachedRows(Generic[T]):
    """A model's columns in a Core select, and the detached object made of them: as the
    ORM loads one (values straight into the instance, no history), without its layers.
    Every column is read, so no attribute is left to load (a detached object would
    refuse to)."""

    def __init__(self, model: type[T]) -> None:
        self.model = model
        self.mapper = sa_inspect(model)
        attrs = self.mapper.column_attrs
        self.keys = tuple(attr.key for attr in attrs)
        self.columns = tuple(attr.columns[0] for attr in attrs)
        self.primary_key = tuple(self.columns.index(c) for c in self.mapper.primary_key)

    def make(self, row: Sequence[Any], start: int = 0) -> tuple[T, int]:
        """The object of the columns from ``start`` in ``row``, and where they end: what
        ``make_transient_to_detached`` makes of an object with every column set."""
        end = start + len(self.keys)
        values = row[start:end]
        instance = self.mapper.class_manager.new_instance()
        instance.__dict__.update(zip(self.keys, values, strict=True))
        instance_state(instance).key = self.mapper.identity_key_from_primary_key(
            [values[i] for i in self.primary_key]
        )
        return instance, end
