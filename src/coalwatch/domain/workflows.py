"""Coefficient applications 折算系数申报: the rules a mine's application must follow.

From the seed's 毛煤与原煤折算系数管理办法: a coefficient is set for half a year
(1 Jan–30 Jun, 1 Jul–31 Dec) and applied for in December and June; where the
coefficient exceeds 10 % the gangue is measured on site 现场实地测算; a change of
geology, mining method or hoisting requires a change application 变更申请 within
15 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

#: above this percentage an application needs a site measurement (seed: 大于10%)
SITE_MEASUREMENT_ABOVE = Decimal(10)
#: a change application is filed within this many days of the change (seed: 15日内)
CHANGE_DEADLINE_DAYS = 15


class ApplicationKind(StrEnum):
    """A regular half-year application 半年申报, or a change application 变更申请."""

    HALF_YEAR = "half_year"
    CHANGE = "change"


class RuleBroken(ValueError):
    """An application that the rules refuse; the message says which rule."""


@dataclass(frozen=True, slots=True)
class HalfYear:
    first: date
    last: date

    @property
    def label(self) -> str:
        return f"{self.first.year}-H{1 if self.first.month == 1 else 2}"


def half_year(day: date) -> HalfYear:
    """The half-year containing ``day``: 1 Jan–30 Jun or 1 Jul–31 Dec."""
    if day.month <= 6:
        return HalfYear(date(day.year, 1, 1), date(day.year, 6, 30))
    return HalfYear(date(day.year, 7, 1), date(day.year, 12, 31))


def is_half_year(first: date, last: date) -> bool:
    return half_year(first) == HalfYear(first, last)


def application_window(period: HalfYear) -> tuple[date, date]:
    """When a half-year is applied for: the December before 1 Jan, the June before 1 Jul."""
    before = period.first - timedelta(days=1)
    return before.replace(day=1), before


def filed_in_window(period: HalfYear, filed_on: date) -> bool:
    """Filed in the application month (or earlier): an application filed once its
    half-year has begun is late, and is marked so (it may still be approved)."""
    return filed_on <= application_window(period)[1]


def needs_site_measurement(percent: Decimal) -> bool:
    """A coefficient above 10 % requires a site measurement of the gangue 实地测算矸石量."""
    return percent > SITE_MEASUREMENT_ABOVE


def change_filed_in_time(changed_on: date, filed_on: date) -> bool:
    """A change application comes within 15 days of the change (the change day is day 0)."""
    return changed_on <= filed_on <= changed_on + timedelta(days=CHANGE_DEADLINE_DAYS)


@dataclass(frozen=True, slots=True)
class Application:
    kind: ApplicationKind
    percent: Decimal
    #: half-year: the period's first day; change: the day asked for (None: the approval day)
    effective_from: date | None
    effective_to: date | None
    site_measurement: str | None
    changed_on: date | None


def check_application(app: Application, filed_on: date) -> HalfYear:
    """The half-year an application is for, or :class:`RuleBroken` saying what is wrong.

    ``filed_on`` is the local day of filing in the mine's time zone.
    """
    if needs_site_measurement(app.percent) and not (app.site_measurement or "").strip():
        raise RuleBroken(
            f"a coefficient above {SITE_MEASUREMENT_ABOVE} % ({app.percent} %) requires a site "
            "measurement of the gangue: give its report in site_measurement"
        )
    if app.kind is ApplicationKind.HALF_YEAR:
        if app.changed_on is not None:
            raise RuleBroken("changed_on belongs to a change application (kind 'change')")
        if app.effective_from is None or app.effective_to is None:
            raise RuleBroken("a half-year application gives effective_from and effective_to")
        if not is_half_year(app.effective_from, app.effective_to):
            raise RuleBroken(
                "a coefficient is applied for per half-year: effective_from 1 Jan to "
                "effective_to 30 Jun, or 1 Jul to 31 Dec "
                f"(got {app.effective_from} to {app.effective_to})"
            )
        period = half_year(app.effective_from)
        if period.last < filed_on:
            raise RuleBroken(f"the half-year {period.label} has ended; it cannot be applied for")
        return period
    if app.changed_on is None:
        raise RuleBroken("a change application gives the day of the change in changed_on")
    if app.changed_on > filed_on:
        raise RuleBroken(f"the change day {app.changed_on} is in the future")
    if not change_filed_in_time(app.changed_on, filed_on):
        raise RuleBroken(
            f"a change application is filed within {CHANGE_DEADLINE_DAYS} days of the change "
            f"({app.changed_on}); the deadline was "
            f"{app.changed_on + timedelta(days=CHANGE_DEADLINE_DAYS)}"
        )
    start = app.effective_from or filed_on
    if start < app.changed_on:
        raise RuleBroken("a change coefficient cannot take effect before the change day")
    period = half_year(start)
    if app.effective_to is not None and app.effective_to != period.last:
        raise RuleBroken(
            f"a change coefficient is in force to the end of its half-year ({period.last})"
        )
    return period


def change_span(asked_from: date | None, approved_on: date) -> tuple[date, date]:
    """The days a change coefficient is in force: from the day asked for (or the day of
    approval) to the end of that half-year."""
    start = asked_from or approved_on
    return start, half_year(start).last
