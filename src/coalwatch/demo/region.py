"""The demo region 演示区域: 山西省 › 长治市 › 襄垣县 › a coal company and its mines.

Everything is configured through the same services the API uses, acting as
the command-line operator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from coalwatch.acceptance.schemas import DecisionIn
from coalwatch.acceptance.service import decide
from coalwatch.auth.principal import OPERATOR
from coalwatch.demo.history import BW500_MODULUS_KG, Profile, SimPoint, StandInStation
from coalwatch.domain.capacity import DAYS_PER_YEAR, HOURS_PER_DAY
from coalwatch.errors import Invalid
from coalwatch.mines.schemas import CoefficientIn, MineIn, PlanIn, PointIn, StationIn
from coalwatch.mines.service import (
    approve_coefficient,
    create_mine,
    create_point,
    register_station,
    set_plan,
)
from coalwatch.orgs.schemas import OrgIn, OrgKind
from coalwatch.orgs.service import create_org
from coalwatch.wire.signing import generate_private_key, public_key_b64

MAX_MINES = 50
BELT = "B1"
SKIP = "K1"
SKIP_SHARE = 0.4
#: a BW500 total: UINT32 with 3 implied decimals, so it wraps after 4,294,967.295 t
BELT_ROLLOVER_T = Decimal(BW500_MODULUS_KG).scaleb(-3)


@dataclass(frozen=True)
class OrgSpec:
    code: str
    name: str
    kind: OrgKind
    parent: str | None


PROVINCE = OrgSpec("SX", "山西省", "province", None)
CITY = OrgSpec("SX-CZ", "长治市", "city", "SX")
COUNTY = OrgSpec("SX-CZ-XY", "襄垣县", "county", "SX-CZ")
COMPANY = OrgSpec("XY-HD", "襄垣县宏达煤业有限公司", "company", "SX-CZ-XY")
ORGS = (PROVINCE, CITY, COUNTY, COMPANY)

_NAMES = (
    "东坡",
    "西沟",
    "南岭",
    "北窑",
    "石门",
    "柳林沟",
    "红岩",
    "青龙山",
    "白家庄",
    "黄土坡",
    "李家沟",
    "杨家峪",
    "马头山",
    "龙泉",
    "凤凰山",
    "槐树沟",
    "桃园",
    "梨树坪",
    "枣林",
    "上庄",
    "下良",
    "后湾",
    "王家岭",
    "善福",
    "五阳",
)
_NUMERALS = ("", "二号井", "三号井")
_CAPACITIES_T = (900_000, 1_200_000, 600_000, 1_500_000, 450_000, 2_400_000, 1_800_000, 300_000)
_COEFFICIENTS = ("4.5", "6", "3.2", "5.5", "2.8", "7.2", "4", "3.6")


@dataclass(frozen=True)
class MineSpec:
    """One demo mine: what the center is told, and how its stand-in station behaves."""

    code: str
    name: str
    annual_capacity_t: Decimal
    coefficient_percent: Decimal
    previous_coefficient_percent: Decimal
    has_skip: bool
    plan_month_t: Decimal | None
    shift_offset_min: int
    pushes: bool
    belt_start_kg: int

    @property
    def station_code(self) -> str:
        return f"{self.code}-S1"

    @property
    def hourly_capacity_t(self) -> Decimal:
        """H = A / 330 / 16 时生产能力 (for the simulated load, not for accounting)."""
        return self.annual_capacity_t / DAYS_PER_YEAR / HOURS_PER_DAY


def _plan(annual_t: Decimal) -> Decimal:
    """A monthly plan 月计划: 90 % of a twelfth of A, to the hundred tonnes."""
    return (annual_t * 9 / 120 / 100).to_integral_value() * 100


def plan_mines(count: int) -> list[MineSpec]:
    """The demo's mines: different capacities, coefficients and shift times."""
    if not 1 <= count <= MAX_MINES:
        raise Invalid(f"the demo runs 1 to {MAX_MINES} mines, not {count}")
    rng = random.Random("coalwatch-demo")
    featured = 1 if count > 1 else 0
    specs = []
    for index in range(count):
        base, round_ = index % len(_NAMES), index // len(_NAMES)
        capacity = Decimal(_CAPACITIES_T[index % len(_CAPACITIES_T)])
        coefficient = Decimal(_COEFFICIENTS[index % len(_COEFFICIENTS)])
        # The third mine's totalizer is 1,000 t short of wrapping, so the demo shows a rollover.
        start = BW500_MODULUS_KG - 1_000_000 if index == 2 else rng.randrange(10**8, 35 * 10**8)
        specs.append(
            MineSpec(
                code=f"XY{index + 1:03d}",
                name=f"{_NAMES[base]}煤矿{_NUMERALS[round_]}",
                annual_capacity_t=capacity,
                coefficient_percent=coefficient,
                previous_coefficient_percent=coefficient + Decimal("0.3"),
                has_skip=index == featured,
                plan_month_t=_plan(capacity) if index == featured else None,
                # Mines change shifts at different hours, so they do not all stop at once.
                shift_offset_min=(0, -60, 60)[index % 3],
                pushes=index == 0,
                belt_start_kg=start,
            )
        )
    return specs


def half_year(day: date) -> tuple[date, date]:
    """The coefficient period 折算系数 containing a day: 1 Jan–30 Jun or 1 Jul–31 Dec."""
    if day.month <= 6:
        return date(day.year, 1, 1), date(day.year, 6, 30)
    return date(day.year, 7, 1), date(day.year, 12, 31)


def seed_region(
    session: Session, mines: list[MineSpec], now: datetime, tz: ZoneInfo
) -> dict[str, Ed25519PrivateKey]:
    """Create the orgs, mines, points, coefficients, plan and stations; the stations' keys."""
    for org in ORGS:
        create_org(
            session,
            OPERATOR,
            OrgIn(code=org.code, name=org.name, kind=org.kind, parent=org.parent),
            now,
        )
    today = now.astimezone(tz).date()
    current = half_year(today)
    previous = half_year(current[0] - timedelta(days=1))
    keys = {}
    for index, spec in enumerate(mines):
        create_mine(
            session,
            OPERATOR,
            MineIn(
                code=spec.code,
                name=spec.name,
                org=COMPANY.code,
                annual_capacity_t=spec.annual_capacity_t,
            ),
            tz.key,
            now,
        )
        for percent, (first, last) in (
            (spec.previous_coefficient_percent, previous),
            (spec.coefficient_percent, current),
        ):
            approve_coefficient(
                session,
                OPERATOR,
                spec.code,
                CoefficientIn(percent=percent, effective_from=first, effective_to=last),
                now,
            )
        create_point(
            session,
            OPERATOR,
            spec.code,
            PointIn(code=BELT, name="主斜井皮带秤", kind="belt", rollover_t=BELT_ROLLOVER_T),
            now,
        )
        if spec.has_skip:
            create_point(
                session,
                OPERATOR,
                spec.code,
                PointIn(code=SKIP, name="主立井箕斗", kind="skip", min_trip_t=Decimal(5)),
                now,
            )
        if spec.plan_month_t is not None:
            last_month = today.replace(day=1) - timedelta(days=1)
            for month in (last_month, today):
                set_plan(
                    session,
                    OPERATOR,
                    spec.code,
                    f"{month:%Y-%m}",
                    PlanIn(month_t=spec.plan_month_t),
                    now,
                )
        key = generate_private_key()
        register_station(
            session,
            OPERATOR,
            spec.code,
            StationIn(code=spec.station_code, public_key=public_key_b64(key)),
            now,
        )
        keys[spec.code] = key
        if index != UNACCEPTED_INDEX:
            accept(session, spec.code, today, index, now)
    return keys


#: the demo's third mine (when there is one) has a system still under construction 在建:
#: its production is marked 未验收 and alarmed, as the regulation wants
UNACCEPTED_INDEX = 2


def accept(session: Session, code: str, today: date, index: int, now: datetime) -> None:
    """The county accepted the mine's system before the demo's history begins (the day
    before the first of last month); the annual inspection is due a year later."""
    accepted_on = today.replace(day=1) - timedelta(days=1)
    accepted_on = accepted_on.replace(day=1) - timedelta(days=1)
    decide(
        session,
        OPERATOR,
        code,
        DecisionIn(
            kind="acceptance",
            decided_on=accepted_on,
            record_no=f"襄煤验字〔{accepted_on.year}〕第{index + 1:02d}号",
            inspection_due=accepted_on + timedelta(days=365),
        ),
        now,
    )


def stand_in_station(
    spec: MineSpec, key: Ed25519PrivateKey, tz: ZoneInfo, first_sample: datetime, step: timedelta
) -> StandInStation:
    """The mine's stand-in station, whose first reading will be at ``first_sample``."""
    belt_share = 1 - SKIP_SHARE if spec.has_skip else 1.0
    points = [SimPoint(BELT, "belt", belt_share, total_kg=spec.belt_start_kg)]
    if spec.has_skip:
        points.append(SimPoint(SKIP, "skip", SKIP_SHARE))
    return StandInStation(
        code=spec.station_code,
        key=key,
        profile=Profile(
            hourly_capacity_tph=float(spec.hourly_capacity_t),
            tz=tz,
            seed=spec.code,
            shift_offset_min=spec.shift_offset_min,
            pushes=spec.pushes,
        ),
        points=points,
        last_ts=first_sample - step,
    )
