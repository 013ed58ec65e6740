"""Production accounting from what instruments report.

Belt scales report a cumulative totalizer T. Production between two samples
is T_new − T_old, attributed to the period of the later sample. A decrease is
a rollover when the point has a rollover value R and the drop exceeds R/2
(increment = R − T_old + T_new), otherwise a reset (increment = T_new, and a
``parameter_change`` event). Trip conveyances (skip, mine car, tyred vehicle,
truck) report one net weight per trip, counted at the trip time.

An increment is counted only when it is physically possible (``implausible``): at
most what the belt can carry in the elapsed time at the point's maximum flow, and
at most what the flow rate the instrument reports says it carried. One that is not
(a reset taken for a rollover, an instrument restarted at a non-zero total, a wrong
word order) is held as suspect until a supervising user confirms or rejects it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction

from coalwatch.domain.periods import Period, next_period_start, period_starts


class IncrementKind(StrEnum):
    BASELINE = "baseline"  # first sample of a point: nothing to compare with
    NORMAL = "normal"
    ROLLOVER = "rollover"
    RESET = "reset"
    #: held: stored, not counted, until a supervising user confirms it
    SUSPECT = "suspect"
    #: a suspect increment a supervising user confirmed: counted
    CONFIRMED = "confirmed"


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


#: what a belt can carry is its maximum flow × the elapsed time × this margin ...
PLAUSIBLE_MARGIN = Fraction(3, 2)
#: ... plus one tonne: the coarsest totalizer resolution in use, so that a total shown
#: in whole tonnes may step by one in a short interval
PLAUSIBLE_SLACK_KG = 1000
#: how far a reading's time stamp may be from the moment its register was read (a poll
#: cycle is dated once; a busy station reads a little later): added to every interval
TIME_TOLERANCE = timedelta(seconds=2)
#: the flow rate an instrument reports at two readings describes the interval between
#: them only when they are close; beyond this the rate is not compared
FLOW_CHECK_MAX = timedelta(minutes=10)
#: a point with no maximum flow of its own: the most a mine can produce in an hour
#: (domain/limits.py) is the ceiling, over any interval up to an hour
DEFAULT_MAX_FLOW_KGPH = 200_000_000
_HOUR = timedelta(hours=1)


class SuspectReason(StrEnum):
    #: more than the point's maximum flow can carry in the elapsed time
    MAX_FLOW = "max_flow"
    #: more than the flow rate the instrument reported says the belt carried
    FLOW_RATE = "flow_rate"


@dataclass(frozen=True, slots=True)
class Suspicion:
    """Why an increment cannot be true: the increment, the most it could have been."""

    reason: SuspectReason
    increment_kg: int
    limit_kg: int


def carried_at_most(flow_kgph: int, elapsed: timedelta) -> int:
    """The most a belt flowing at ``flow_kgph`` carries in ``elapsed`` (kg, rounded up):
    flow × (seconds + ``TIME_TOLERANCE``) / 3600 × ``PLAUSIBLE_MARGIN`` +
    ``PLAUSIBLE_SLACK_KG``."""
    microseconds = max(elapsed // _ONE_US, 0) + _TOLERANCE_US
    # the exact product as one integer quotient, rounded up (every reading of a batch
    # is judged: no fraction built)
    numerator = flow_kgph * microseconds * _MARGIN_NUMERATOR
    return -(-numerator // _CARRIED_DENOMINATOR) + PLAUSIBLE_SLACK_KG


_ONE_US = timedelta(microseconds=1)
_TOLERANCE_US = TIME_TOLERANCE // _ONE_US
_MARGIN_NUMERATOR = PLAUSIBLE_MARGIN.numerator
#: microseconds in an hour × the margin's denominator
_CARRIED_DENOMINATOR = 3600 * 1_000_000 * PLAUSIBLE_MARGIN.denominator


def implausible(
    increment: Increment,
    elapsed: timedelta,
    max_flow_kgph: int | None,
    flows_kgph: tuple[int | None, int | None] = (None, None),
) -> Suspicion | None:
    """Why ``increment``, over ``elapsed`` since the previous reading, cannot be true
    (None when it can): above what the point's maximum flow carries in that time, or,
    for readings close together, above what the larger of the two flow rates reported
    at them carries. A baseline or a zero increment is always possible; flow rates of
    0 at both readings say nothing of the interval (an integrator that reports no rate
    sends 0), and the maximum flow alone judges it."""
    kg = increment.kg
    if kg <= 0 or increment.kind is IncrementKind.BASELINE:
        return None
    if max_flow_kgph is None:
        limit = carried_at_most(DEFAULT_MAX_FLOW_KGPH, max(elapsed, _HOUR))
    else:
        limit = carried_at_most(max_flow_kgph, elapsed)
    if kg > limit:
        return Suspicion(SuspectReason.MAX_FLOW, kg, limit)
    before, after = flows_kgph
    flow = max(before or 0, after or 0)  # the larger rate reported (rates are not negative)
    if flow and elapsed <= FLOW_CHECK_MAX:
        limit = carried_at_most(flow, elapsed)
        if kg > limit:
            return Suspicion(SuspectReason.FLOW_RATE, kg, limit)
    return None


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
