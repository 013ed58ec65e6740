"""Settlement statements: rates in force by date, rounding to the fen per line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from coalwatch.domain.settlement import (
    Rate,
    parse_rate,
    rate_on,
    round_fen,
    statement_lines,
    statement_total,
)

# raw units are 1/10,000 kg: 1 t = 10,000,000 units
T = 10_000_000


def test_rate_in_force_is_the_latest_started() -> None:
    rates = [Rate(date(2026, 1, 1), Decimal("5")), Rate(date(2026, 3, 16), Decimal("5.5"))]
    assert rate_on(rates, date(2025, 12, 31)) is None
    assert rate_on(rates, date(2026, 3, 15)) == Decimal("5")
    assert rate_on(rates, date(2026, 3, 16)) == Decimal("5.5")


def test_amounts_round_half_up_to_the_fen() -> None:
    assert round_fen(Decimal("0.005")) == Decimal("0.01")
    assert round_fen(Decimal("2.0049999")) == Decimal("2.00")


def test_rate_changing_mid_month_gives_two_lines() -> None:
    # March: 100.1234567 t raw every day. Resource tax 5.00 yuan/t until the 15th,
    # 5.50 from the 16th; fund 0.8765 yuan/t all month.
    #   1–15: 15 × 100.1234567 = 1,501.8518505 t × 5.00 = 7,509.2592525 → 7,509.26
    #  16–31: 16 × 100.1234567 = 1,601.9753072 t × 5.50 = 8,810.8641896 → 8,810.86
    #  fund:  31 × 100.1234567 = 3,103.8271577 t × 0.8765 = 2,720.5045037… → 2,720.50
    # total = 7,509.26 + 8,810.86 + 2,720.50 = 19,040.62
    daily = {date(2026, 3, d): 1_001_234_567 for d in range(1, 32)}
    items = {
        "resource_tax": [
            Rate(date(2026, 1, 1), Decimal("5.00")),
            Rate(date(2026, 3, 16), Decimal("5.50")),
        ],
        "fund": [Rate(date(2026, 1, 1), Decimal("0.8765"))],
    }
    lines = statement_lines(items, daily, date(2026, 3, 1), date(2026, 3, 31))
    assert [
        (line.item, line.first_day.day, line.last_day.day, line.raw_t, line.amount)
        for line in lines
    ] == [
        ("resource_tax", 1, 15, Decimal("1501.8518505"), Decimal("7509.26")),
        ("resource_tax", 16, 31, Decimal("1601.9753072"), Decimal("8810.86")),
        ("fund", 1, 31, Decimal("3103.8271577"), Decimal("2720.50")),
    ]
    assert statement_total(lines) == Decimal("19040.62")


def test_days_before_the_first_rate_are_not_charged() -> None:
    daily = {date(2026, 3, 10): 10 * T, date(2026, 3, 20): 20 * T}
    lines = statement_lines(
        {"fee": [Rate(date(2026, 3, 15), Decimal("2"))]}, daily, date(2026, 3, 1), date(2026, 3, 31)
    )
    assert [(line.first_day.day, line.raw_t, line.amount) for line in lines] == [
        (15, Decimal(20), Decimal("40.00"))
    ]


def test_rates_are_checked() -> None:
    assert parse_rate("5.1234") == Decimal("5.1234")
    with pytest.raises(ValueError, match="4 decimals"):
        parse_rate("5.12345")
    with pytest.raises(ValueError, match="non-negative"):
        parse_rate("-1")
