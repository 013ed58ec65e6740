"""What the pages and reports that show production ask of acceptance: which mines were
not accepted now or at some time of a span (a few rows per mine, read in one query).
Imports nothing but the tables and the rules, so that any feature may ask."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from coalwatch.acceptance import repository
from coalwatch.domain import acceptance as rules


def states_now(session: Session, mine_ids: Sequence[int], now: datetime) -> dict[int, str]:
    """The state of each mine's system at ``now``."""
    histories = repository.histories(session, list(mine_ids))
    return {m: rules.state_at(histories.get(m, []), now) for m in mine_ids}


def unaccepted_now(session: Session, mine_ids: Sequence[int], now: datetime) -> set[int]:
    """The mines among these whose system is not accepted at ``now``."""
    return {m for m, s in states_now(session, mine_ids, now).items() if s != rules.ACCEPTED}


def unaccepted_during(
    session: Session, mine_ids: Sequence[int], start: datetime, end: datetime
) -> set[int]:
    """The mines among these whose system was not accepted at some time of [start, end)."""
    histories = repository.histories(session, list(mine_ids))
    return {m for m in mine_ids if rules.unaccepted_during(histories.get(m, []), start, end)}


def history_of(session: Session, mine_id: int) -> list[rules.Step]:
    """A mine's states in time order, for a caller that asks of many spans."""
    return repository.histories(session, [mine_id]).get(mine_id, [])
