"""Hard limits of every figure the center stores or sums, shared by station and center.

Every kilogram figure is kept in a signed 64-bit integer column (BIGINT, at most
2^63 − 1 ≈ 9.22 × 10^18) on SQLite and PostgreSQL alike. The largest sum the
database computes is a mine's raw coal over a range of days: ``SUM((measured_kg +
manual_kg) × (10 000 − k))``, raw units of 1/10,000 kg, over the mine's hourly or
daily rows (production/repository.py). PostgreSQL adds BIGINTs into NUMERIC, but
each row's product is a BIGINT, and SQLite's SUM of integers fails beyond 2^63. So
the bound that matters is a mine's production in one hour:

* an hour of a mine holds at most ``MAX_MINE_HOUR_KG`` = 2 × 10^8 kg measured
  and as much again entered by hand, 4 × 10^8 kg in all (200,000 t an hour
  each: ten times the peak of the largest mine there is);
* its raw units are at most 4 × 10^8 × 10^4 = 4 × 10^12 per hourly row, and a
  daily row (25 hours on the day a clock goes back) 1 × 10^13;
* the longest range a figure is asked for is 1970–2199 (``wire.types``): 230
  years, at most 230 × 8,784 = 2,020,320 hours, so a mine's sum over all of
  it is at most 2,020,320 × 4 × 10^12 ≈ 8.08 × 10^18 < 9.22 × 10^18.

A year of a province (or any sum over several mines) is added up in Python from
these per-mine sums, whose integers do not overflow; a province of 10,000 mines at
the limit for a year would be 10,000 × 8,784 × 4 × 10^8 kg ≈ 3.5 × 10^16 kg, which
would still fit a BIGINT if it were ever stored.

Single figures have bounds of their own, far above any real one but such that the
column holds them: a totalizer reading or any tonne figure at most 10^12 t (10^15
kg), a flow at most 10^6 t/h, one trip at most the limit of its conveyance below.
"""

from __future__ import annotations

from decimal import Decimal

KG_PER_T = 1000

#: the largest value a BIGINT column holds, on both databases
MAX_BIGINT = 2**63 - 1
#: any tonne figure given to the center (a reading, a capacity, a plan): 10^15 kg
MAX_TONNES = Decimal(10**12)
#: a mine's annual capacity or a plan's figure (t). A fault's reduction is kept as an
#: exact fraction of kg, at most annual × 3 × days / 330 with up to 84,000 days
#: (1970–2199): 10^12 kg × 3 × 84,000 ≈ 2.5 × 10^17 < 9.22 × 10^18
MAX_CAPACITY_T = Decimal(10**9)
#: a belt's flow (t/h)
MAX_FLOW_TPH = Decimal(10**6)
#: what one mine produces in one hour, measured (and again, entered by hand)
MAX_MINE_HOUR_T = 200_000
MAX_MINE_HOUR_KG = MAX_MINE_HOUR_T * KG_PER_T
#: the longest window of one manual production entry (a year and a day, in hours)
MAX_MANUAL_HOURS = 8_784

#: the heaviest load one trip of a conveyance can carry (t): a skip or a mine car
#: carries tens of tonnes at most, a tyred vehicle some 50 t, the largest haul trucks
#: some 450 t; a trip above this is an instrument's or a sender's error
TRIP_LIMIT_T: dict[str, int] = {
    "skip": 100,
    "mine_car": 50,
    "tyred_vehicle": 100,
    "truck": 500,
}
TRIP_KINDS = frozenset(TRIP_LIMIT_T)
#: the heaviest trip of any conveyance (t): a point's lightest-trip setting is at most this
MAX_TRIP_T = max(TRIP_LIMIT_T.values())
#: what a belt can carry in a window of at most a day at the hourly limit (t)
MAX_WINDOW_T = 24 * MAX_MINE_HOUR_T


def trip_limit_kg(kind: str) -> int:
    return TRIP_LIMIT_T[kind] * KG_PER_T
