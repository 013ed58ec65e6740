"""Calibration 调校 of a belt scale.

A physical calibration runs a test load of at least 5 t and must be confirmed
by a second physical run before the new value is written to the instrument.
New interval value 间隔值 = actual weight / indicated weight × old interval value.
Error % = (indicated − actual) / actual × 100. Belt scales are calibrated at
least every 15 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

MIN_TEST_LOAD_T = Decimal(5)
INTERVAL_DAYS = 15


@dataclass(frozen=True, slots=True)
class Run:
    """One physical run: the test load's actual weight and what the scale indicated (t)."""

    actual_t: Decimal
    indicated_t: Decimal


def check_run(run: Run) -> None:
    if run.actual_t < MIN_TEST_LOAD_T:
        raise ValueError(f"a test load must be at least {MIN_TEST_LOAD_T} t, got {run.actual_t} t")
    if run.indicated_t <= 0:
        raise ValueError("the indicated weight must be positive")


def new_interval_value(run: Run, old_interval: Decimal) -> Decimal:
    """间隔值: actual / indicated × old (exact as a Decimal quotient at 28 digits)."""
    check_run(run)
    return run.actual_t / run.indicated_t * old_interval


def error_percent(run: Run) -> Decimal:
    """(indicated − actual) / actual × 100."""
    check_run(run)
    return (run.indicated_t - run.actual_t) / run.actual_t * 100


def due_date(calibrated_on: date) -> date:
    """The last day before the calibration is overdue."""
    return calibrated_on + timedelta(days=INTERVAL_DAYS)


def check_write(written_to_instrument: bool, confirmation: Run | None) -> None:
    """在间隔值标定准确后，必须再通过实物确认一次才能写入数据采集器: the new value may be
    written to the instrument only once a second physical run has confirmed it."""
    if written_to_instrument and confirmation is None:
        raise ValueError(
            "the new interval value may be written to the instrument only after "
            "a confirming second run"
        )
    if confirmation is not None:
        check_run(confirmation)


def shown(value: Decimal, places: int) -> Decimal:
    """A computed value as shown: half-up to ``places`` decimals (it is kept unrounded)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


#: decimals shown of an interval value and of an error percentage
INTERVAL_PLACES = 6
PERCENT_PLACES = 3
