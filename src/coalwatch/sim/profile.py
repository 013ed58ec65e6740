"""The simulated day: shifts with a stop between them, and seeded rate noise.

Both are pure functions of simulated time, so a simulator's production does not
depend on how often it is read, only on how far its clock has run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

DAY_S = 86_400.0
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Schedule:
    """Shifts 班 of ``shift_h`` hours from ``first_shift_h`` o'clock; the belt stops for
    the last ``stop_min`` minutes of each (the handover between shifts)."""

    shift_h: float = 8.0
    stop_min: float = 30.0
    first_shift_h: float = 0.0

    def __post_init__(self) -> None:
        if self.shift_h <= 0 or not 0 <= self.stop_min * 60 < self.shift_h * 3600:
            raise ValueError("a shift must be longer than its stop, and the stop not negative")

    @property
    def _shift_s(self) -> float:
        return self.shift_h * 3600

    @property
    def _work_s(self) -> float:
        return self._shift_s - self.stop_min * 60

    def _phase(self, clock_s: float) -> float:
        return (clock_s - self.first_shift_h * 3600) % self._shift_s

    def running(self, clock_s: float) -> bool:
        """Whether production is scheduled at a time of day (seconds since a midnight)."""
        return self._phase(clock_s) < self._work_s

    def next_change(self, clock_s: float) -> float:
        """The next time after ``clock_s`` at which ``running`` may change."""
        if self.stop_min == 0:
            return math.inf
        phase = self._phase(clock_s)
        edge = self._work_s if phase < self._work_s else self._shift_s
        return clock_s + (edge - phase)


def _splitmix64(x: int) -> int:
    # a tiny, well-mixed hash: the noise of period n is the same whoever asks for it
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


@dataclass(frozen=True)
class RateNoise:
    """A rate factor around 1 that is constant for ``period_s`` and then changes,
    uniform with standard deviation ``relative_sd``, from a seed."""

    seed: int = 0
    relative_sd: float = 0.1
    period_s: float = 60.0

    def __post_init__(self) -> None:
        if self.period_s <= 0 or not 0 <= self.relative_sd <= 0.5:
            raise ValueError("noise needs a positive period and 0 <= relative_sd <= 0.5")

    def factor(self, t: float) -> float:
        index = math.floor(t / self.period_s)
        u = _splitmix64((self.seed * 0x100000001B3) ^ (index & _MASK64)) / 2.0**64
        # uniform on [1 - a, 1 + a] has standard deviation a / sqrt(3)
        return 1.0 + (2.0 * u - 1.0) * self.relative_sd * math.sqrt(3.0)

    def next_change(self, t: float) -> float:
        return (math.floor(t / self.period_s) + 1) * self.period_s


def pieces(
    t0: float, t1: float, *next_changes: Callable[[float], float]
) -> Iterator[tuple[float, float]]:
    """Split [t0, t1) where any of the functions says something changes; the caller
    evaluates each piece at its midpoint, away from the edges' rounding."""
    t = t0
    while t < t1:
        end = min([t1, *(change(t) for change in next_changes)])
        # float rounding at an edge must not stall the walk
        end = min(t1, max(end, math.nextafter(t, math.inf)))
        yield t, end
        t = end
