"""Production accounting from what instruments report.

Belt scales report a cumulative totalizer T. Production between two samples
is T_new − T_old, attributed to the period of the later sample. A decrease is
a rollover when the point has a rollover value R and the drop exceeds R/2
(increment = R − T_old + T_new), otherwise a reset (increment = T_new, and a
``parameter_change`` event). Trip conveyances (skip, mine car, tyred vehicle,
truck) report one net weight per trip, counted at the trip time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from coalwatch.domain.periods import Period, next_period_start, period_starts


class IncrementKind(StrEnum):
    BASELINE = "baseline"  # first sample of a point: nothing to compare with
    NORMAL = "normal"
    ROLLOVER = "rollover"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class Increment:
    kg: int
    kind: IncrementKind


def totalizer_increment(old_kg: int | None, new_kg: int, rollover_kg: int | None) -> Increment:
    """Production between two totalizer readings, in kg.

    ``old_kg`` is None for the first sample of a point (a baseline: 0 kg).
    """
    if new_kg < 0:
        raise ValueError("a totalizer reading cannot be negative")
    if old_kg is None:
        return Increment(0, IncrementKind.BASELINE)
    if new_kg >= old_kg:
        return Increment(new_kg - old_kg, IncrementKind.NORMAL)
    if rollover_kg is not None and 2 * (old_kg - new_kg) > rollover_kg:
        return Increment(rollover_kg - old_kg + new_kg, IncrementKind.ROLLOVER)
    return Increment(new_kg, IncrementKind.RESET)


def totalizer_increments(
    readings_kg: Iterable[int], rollover_kg: int | None, previous_kg: int | None = None
) -> Iterator[Increment]:
    """Increments of a stream of readings in time order, after ``previous_kg``."""
    old = previous_kg
    for new in readings_kg:
        yield totalizer_increment(old, new, rollover_kg)
        old = new


def trip_production(net_kg: int) -> int:
    """Production of one trip: its net weight."""
    if net_kg < 0:
        raise ValueError("a trip's net weight cannot be negative")
    return net_kg


def spread_over_hours(
    start: datetime, end: datetime, kg: int, tz: tzinfo
) -> list[tuple[datetime, int]]:
    """Manual production 人工录入 over a window, shared among its hours by time.

    Each local hour gets kg in proportion to its share of the window; the
    kilograms left over by integer division go to the hours with the largest
    remainders (earliest first on ties), so the parts sum to ``kg`` exactly.
    """
    if end <= start:
        raise ValueError("a window must end after it starts")
    total_us = _microseconds(end - start)
    shares: list[tuple[datetime, int, int]] = []
    for hour in period_starts(start, end, Period.HOUR, tz):
        following = next_period_start(hour, Period.HOUR, tz)
        overlap = _microseconds(min(end, following) - max(start, hour))
        whole, remainder = divmod(kg * overlap, total_us)
        shares.append((hour, whole, remainder))
    left = kg - sum(whole for _, whole, _ in shares)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-shares[i][2], i))
    bonus = set(by_remainder[:left])
    return [(hour, whole + (1 if i in bonus else 0)) for i, (hour, whole, _) in enumerate(shares)]


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
