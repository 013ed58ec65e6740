"""Who runs the background jobs (hot standby: two centers on one database)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from coalwatch.jobs import lease_repository
from coalwatch.jobs.leader import lease_state
from coalwatch.web.context import Ctx

router = APIRouter(tags=["operations"])


class LeaderOut(BaseModel):
    """The holder of the jobs lease; ``active`` is false once it ran out (no leader now)."""

    holder: str | None
    term: int
    active: bool
    acquired_at: datetime | None
    expires_at: datetime | None
    last_round_at: datetime | None


@router.get("/jobs/leader", summary="The center that runs the background jobs (主备)")
def leader(ctx: Ctx) -> LeaderOut:
    with ctx.session() as session:
        ctx.principal(session)  # any API token may see it
        state = lease_state(session)
        if state is None:
            return LeaderOut(
                holder=None,
                term=0,
                active=False,
                acquired_at=None,
                expires_at=None,
                last_round_at=None,
            )
        return LeaderOut(
            holder=state.holder,
            term=state.term,
            active=state.expires_at > lease_repository.database_now(session),
            acquired_at=state.acquired_at,
            expires_at=state.expires_at,
            last_round_at=state.last_round_at,
        )


class OutageOut(BaseModel):
    """A time the center itself was away (not listening to its stations)."""

    start: datetime
    end: datetime
    seconds: int
    noticed_by: str


@router.get("/jobs/outages", summary="The center's own absences (中心停机), newest first")
def outages(ctx: Ctx) -> list[OutageOut]:
    with ctx.session() as session:
        ctx.principal(session)  # any API token may see them
        return [
            OutageOut(
                start=o.start,
                end=o.end,
                seconds=int((o.end - o.start).total_seconds()),
                noticed_by=o.noticed_by,
            )
            for o in lease_repository.outages(session, 100)
        ]
