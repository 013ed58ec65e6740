"""All SQL of settlement: fee items, their rates, the coefficients a statement used.

The month's production comes from :mod:`coalwatch.production.repository`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.settlement.models import FeeItem, FeeRate
from coalwatch.storage.models import CoefficientSpan


def item_by_code(session: Session, code: str) -> FeeItem | None:
    return session.scalars(select(FeeItem).where(FeeItem.code == code)).first()


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def items(session: Session) -> list[FeeItem]:
    """Every fee item, in the order they were defined (the order of statement lines)."""
    return list(session.scalars(select(FeeItem).order_by(FeeItem.id)))


def rates_of(session: Session, item_ids: Sequence[int]) -> dict[int, list[FeeRate]]:
    """Per item, its rates in the order they were given."""
    out: dict[int, list[FeeRate]] = {i: [] for i in item_ids}
    if not item_ids:
        return out
    for rate in session.scalars(
        select(FeeRate).where(FeeRate.fee_item_id.in_(item_ids)).order_by(FeeRate.id)
    ):
        out[rate.fee_item_id].append(rate)
    return out


def coefficient_spans(
    session: Session, mine_id: int, first: date, last: date
) -> list[CoefficientSpan]:
    """The coefficient spans of a mine that overlap [first, last]."""
    return list(
        session.scalars(
            select(CoefficientSpan)
            .where(
                CoefficientSpan.mine_id == mine_id,
                CoefficientSpan.day_from <= last,
                CoefficientSpan.day_to >= first,
            )
            .order_by(CoefficientSpan.day_from)
        )
    )
