"""Settlement 结算: fee items 收费项目 with effective-dated rates, and monthly statements
月结算单 computed from monitored production.

A statement's raw tonnes are the exact sums of the rollups (gross × (1 − k) day by
day, in raw units of 1/10,000 kg); the rules of :mod:`coalwatch.domain.settlement`
split them into lines and round each line's amount once, to the fen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.settlement import Line, Rate, statement_lines, statement_total
from coalwatch.domain.units import kg_to_tonnes, raw_units_to_tonnes, round_tonnes
from coalwatch.errors import Conflict, Invalid, NotFound
from coalwatch.mines.service import visible_mine
from coalwatch.orgs import repository as org_repository
from coalwatch.orgs.service import visible_org
from coalwatch.production import repository as production_repository
from coalwatch.production.repository import Sums
from coalwatch.settlement import repository
from coalwatch.settlement.models import FeeItem, FeeRate
from coalwatch.settlement.schemas import (
    Basis,
    CoefficientUsed,
    DayBasis,
    FeeItemIn,
    FeeItemOut,
    FeeRateIn,
    FeeRateOut,
    ItemAmount,
    ItemName,
    OrgStatement,
    OrgStatementRow,
    OrgStatementTotal,
    Statement,
    StatementLine,
)
from coalwatch.wire.types import FIRST_YEAR, LAST_YEAR

VIEW, WRITE = "settlement:view", "settlement:write"
#: fee items and their rates price every county's statements: changed only unscoped
FEE_ITEMS = "收费项目 fee items"
#: 1/10,000 yuan per yuan: rates have at most 4 decimals and are stored as integers
RATE_SCALE = 10_000
ROUNDING_RULE = (
    "each line: raw tonnes (exact, raw_t_exact) × rate, rounded half-up to the fen "
    "(0.01 yuan); total = sum of lines"
)
ROUNDING_RULE_ZH = "每行金额 = 原煤量（精确值）× 费率，四舍五入到分（0.01 元）；合计 = 各行金额之和"
ZERO_YUAN = Decimal("0.00")


def parse_month(text: str) -> tuple[date, date]:
    """The first and last day of a month written YYYY-MM (1970–2199)."""
    year_text, dash, month_text = text.partition("-")
    if not (dash and len(year_text) == 4 and len(month_text) == 2):
        raise Invalid(f"a month is written YYYY-MM, got {text!r}")
    if not (year_text.isdigit() and month_text.isdigit()):
        raise Invalid(f"a month is written YYYY-MM, got {text!r}")
    year, month = int(year_text), int(month_text)
    if not (FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12):
        raise Invalid(f"no month {text!r} (years {FIRST_YEAR}–{LAST_YEAR}, months 01–12)")
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _rate_yuan(rate: FeeRate) -> Decimal:
    return Decimal(rate.rate_ten_thousandths).scaleb(-4)


def _item_out(item: FeeItem, rates: Sequence[FeeRate]) -> FeeItemOut:
    return FeeItemOut(
        code=item.code,
        name=item.name,
        description=item.description,
        rates=[
            FeeRateOut(
                yuan_per_t=_rate_yuan(r),
                effective_from=r.effective_from,
                created_by=r.created_by,
                created_at=r.created_at,
            )
            for r in rates
        ],
    )


def list_items(session: Session, principal: Principal) -> list[FeeItemOut]:
    principal.require(VIEW)
    items = repository.items(session)
    rates = repository.rates_of(session, [i.id for i in items])
    return [_item_out(item, rates[item.id]) for item in items]


def create_item(
    session: Session, principal: Principal, data: FeeItemIn, now: datetime
) -> FeeItemOut:
    principal.require_unscoped(WRITE, FEE_ITEMS)
    if repository.item_by_code(session, data.code) is not None:
        raise Conflict(f"fee item {data.code!r} exists already")
    item = FeeItem(code=data.code, name=data.name, description=data.description, created_at=now)
    repository.add(session, item)
    audit.record(
        session,
        actor=principal.name,
        action="fee_item.create",
        entity="fee_item",
        key=item.code,
        detail={"name": item.name, "description": item.description},
        at=now,
    )
    return _item_out(item, [])


def add_rate(
    session: Session, principal: Principal, code: str, data: FeeRateIn, now: datetime
) -> FeeItemOut:
    """A rate from a date on. Nothing is overwritten: a correction for the same date is a
    new rate, and the later given is in force."""
    principal.require_unscoped(WRITE, FEE_ITEMS)
    item = repository.item_by_code(session, code)
    if item is None:
        raise NotFound(f"fee item {code!r} not found")
    scaled = data.yuan_per_t * RATE_SCALE
    repository.add(
        session,
        FeeRate(
            fee_item_id=item.id,
            rate_ten_thousandths=int(scaled),
            effective_from=data.effective_from,
            created_by=principal.name,
            created_at=now,
        ),
    )
    audit.record(
        session,
        actor=principal.name,
        action="fee_item.rate",
        entity="fee_item",
        key=item.code,
        detail={
            "yuan_per_t": format(data.yuan_per_t, "f"),
            "effective_from": data.effective_from.isoformat(),
        },
        at=now,
    )
    return _item_out(item, repository.rates_of(session, [item.id])[item.id])


@dataclass(frozen=True)
class _Schedule:
    """The fee items (in their order) and their rates, as the domain rules take them."""

    names: dict[str, str]
    rates: dict[str, list[Rate]]

    def lines(self, raw_by_day: Mapping[date, int], first: date, last: date) -> list[Line]:
        return statement_lines(self.rates, raw_by_day, first, last)


def _schedule(session: Session) -> _Schedule:
    items = repository.items(session)
    rates = repository.rates_of(session, [i.id for i in items])
    return _Schedule(
        names={i.code: i.name for i in items},
        rates={i.code: [Rate(r.effective_from, _rate_yuan(r)) for r in rates[i.id]] for i in items},
    )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def statement(
    session: Session, principal: Principal, code: str, month: str, now: datetime
) -> Statement:
    """A mine's monthly statement: one line per fee item and stretch of days with one rate."""
    principal.require(VIEW)
    mine, org = visible_mine(session, principal, code)
    first, last = parse_month(month)
    sums = production_repository.daily_sums(session, [mine.id], first, last)
    by_day = {day: s for (_, day), s in sums.items()}
    schedule = _schedule(session)
    lines = schedule.lines({day: s[2] for day, s in by_day.items()}, first, last)
    gross = sum(s[0] + s[1] for s in by_day.values())
    manual = sum(s[1] for s in by_day.values())
    raw = raw_units_to_tonnes(sum(s[2] for s in by_day.values()))
    days = []
    for day in _days(first, last):
        measured_kg, manual_kg, units = by_day.get(day, (0, 0, 0))
        exact = raw_units_to_tonnes(units)
        days.append(
            DayBasis(
                day=day,
                gross_t=kg_to_tonnes(measured_kg + manual_kg),
                raw_t=round_tonnes(exact),
                raw_t_exact=exact,
                manual_t=kg_to_tonnes(manual_kg),
            )
        )
    return Statement(
        mine=mine.code,
        name=mine.name,
        org=org.code,
        org_name=org.name,
        month=first.strftime("%Y-%m"),
        first_day=first,
        last_day=last,
        timezone=mine.timezone,
        complete=now.astimezone(ZoneInfo(mine.timezone)).date() > last,
        computed_at=now,
        basis=Basis(
            gross_t=kg_to_tonnes(gross),
            raw_t=round_tonnes(raw),
            raw_t_exact=raw,
            manual_t=kg_to_tonnes(manual),
            coefficients=[
                CoefficientUsed(
                    first_day=max(span.day_from, first),
                    last_day=min(span.day_to, last),
                    percent=Decimal(span.hundredths).scaleb(-2),
                )
                for span in repository.coefficient_spans(session, mine.id, first, last)
            ],
            days=days,
        ),
        lines=[
            StatementLine(
                item=line.item,
                name=schedule.names[line.item],
                first_day=line.first_day,
                last_day=line.last_day,
                yuan_per_t=line.yuan_per_t,
                raw_t=round_tonnes(line.raw_t),
                raw_t_exact=line.raw_t,
                amount=line.amount,
            )
            for line in lines
        ],
        total=statement_total(lines),
        rounding=ROUNDING_RULE,
    )


def org_statement(
    session: Session, principal: Principal, code: str, month: str, now: datetime
) -> OrgStatement:
    """The month's statement of every mine under an org (each mine's days are its own),
    and their sums: an amount per item and in all is the sum of the mines' amounts."""
    principal.require(VIEW)
    org = visible_org(session, principal, code)
    first, last = parse_month(month)
    mines = [mine for mine, _ in org_repository.mines_under(session, org.path)]
    by_mine: dict[int, dict[date, Sums]] = {m.id: {} for m in mines}
    for (mine_id, day), day_sums in production_repository.daily_sums(
        session, list(by_mine), first, last
    ).items():
        by_mine[mine_id][day] = day_sums
    schedule = _schedule(session)
    codes = list(schedule.names)
    rows = []
    totals = [0, 0, 0]
    item_totals = dict.fromkeys(codes, ZERO_YUAN)
    for mine in mines:
        mine_sums = by_mine[mine.id].values()
        lines = schedule.lines({day: s[2] for day, s in by_mine[mine.id].items()}, first, last)
        amounts = dict.fromkeys(codes, ZERO_YUAN)
        for line in lines:
            amounts[line.item] += line.amount
            item_totals[line.item] += line.amount
        gross = sum(s[0] + s[1] for s in mine_sums)
        manual = sum(s[1] for s in mine_sums)
        units = sum(s[2] for s in mine_sums)
        totals = [totals[0] + gross, totals[1] + manual, totals[2] + units]
        raw = raw_units_to_tonnes(units)
        rows.append(
            OrgStatementRow(
                mine=mine.code,
                name=mine.name,
                gross_t=kg_to_tonnes(gross),
                raw_t=round_tonnes(raw),
                raw_t_exact=raw,
                manual_t=kg_to_tonnes(manual),
                amounts=[ItemAmount(item=c, amount=amounts[c]) for c in codes],
                total=statement_total(lines),
            )
        )
    raw_all = raw_units_to_tonnes(totals[2])
    return OrgStatement(
        org=org.code,
        name=org.name,
        month=first.strftime("%Y-%m"),
        computed_at=now,
        items=[ItemName(code=c, name=schedule.names[c]) for c in codes],
        mines=rows,
        total=OrgStatementTotal(
            gross_t=kg_to_tonnes(totals[0]),
            raw_t=round_tonnes(raw_all),
            raw_t_exact=raw_all,
            manual_t=kg_to_tonnes(totals[1]),
            amounts=[ItemAmount(item=c, amount=item_totals[c]) for c in codes],
            total=sum((row.total for row in rows), ZERO_YUAN),
        ),
        rounding=ROUNDING_RULE,
    )
