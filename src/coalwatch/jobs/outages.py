"""The center's own absences 中心停机: when it was not listening to its stations.

Every round of the background jobs beats (``center_beats``). A round that comes far
later than the one before (more than ``ABSENT_ROUNDS`` rounds, at least
``MIN_ABSENCE``) means the center was away meanwhile: its process stopped, its jobs
stuck, or its database unreachable (the rounds fail and do not beat). The absence is
recorded from the last beat to the first beat after it (``center_outages``), logged,
and published; the timed alarm rules then do not count the stations' silence during it
(``coalwatch.alarms.engine``).

Why a record of its own and not a fault record 故障记录: a fault belongs to a mine (its
reporting deadlines, its capacity reduction 核减 and its ledger are the mine's), and an
absence of the center is none of the mines' doing nor theirs to report; it is the
center staff's, who see it in ``GET /api/v1/jobs/outages`` and on the event stream.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from coalwatch.events.broker import emit
from coalwatch.jobs import lease_repository as repository
from coalwatch.jobs.models import CenterBeat, CenterOutage

log = logging.getLogger("coalwatch.jobs")

BEAT = "jobs"
#: rounds missed before the center counts as having been away
ABSENT_ROUNDS = 6
#: and never less than this (a slow round or a change of leader is no absence)
MIN_ABSENCE = timedelta(minutes=1)


def beat(session: Session, now: datetime, interval_s: float, by: str) -> CenterOutage | None:
    """Note a round at ``now``; the absence it ends, if the last round was long ago."""
    row = repository.beat(session, BEAT)
    if row is None:
        repository.add(session, CenterBeat(name=BEAT, beat_at=now))
        return None
    absent = max(MIN_ABSENCE, timedelta(seconds=interval_s * ABSENT_ROUNDS))
    outage = None
    if now - row.beat_at > absent:
        outage = CenterOutage(start=row.beat_at, end=now, noticed_by=by)
        repository.add(session, outage)
        lasted = int((now - row.beat_at).total_seconds())
        log.warning(
            "the center was away from %s to %s (%d s): its stations' silence meanwhile "
            "is not counted against them",
            row.beat_at.isoformat(),
            now.isoformat(),
            lasted,
        )
        emit(
            session,
            "center",
            "/",
            {
                "transition": "outage",
                "start": row.beat_at.isoformat(),
                "end": now.isoformat(),
                "seconds": lasted,
            },
        )
    row.beat_at = max(row.beat_at, now)
    return outage
