"""The fee items and rates of the settlement 结算."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class FeeItem(Base):
    """A fee or tax charged per tonne of raw coal 收费项目 (资源税, 煤炭价格调节基金 ...)."""

    __tablename__ = "fee_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FeeRate(Base):
    """A fee item's rate from a date on, in 1/10,000 yuan per tonne of raw coal (exact).

    Never changed or deleted: a correction is a new row for the same date, and of
    two rows for one date the later added is in force.
    """

    __tablename__ = "fee_rates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fee_item_id: Mapped[int] = mapped_column(ForeignKey("fee_items.id"), index=True)
    #: yuan per tonne × 10,000 (a rate has at most 4 decimals)
    rate_ten_thousandths: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
