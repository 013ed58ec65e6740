"""Several batches in one transaction (as a group commit runs them): each batch reads the
station and its points as the batch before it left them, and the figures are those of
one transaction a batch.

Clock: 2026-03-15 12:00 Asia/Shanghai; mine M1, belt B1 and skip K1, station S1.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from coalwatch.events.broker import attach
from coalwatch.ingest import service
from coalwatch.storage.models import Point, Station
from coalwatch.storage.session import transaction
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import sign
from tests.support.world import World, totalizer, trip, world

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=SH)


def _body(w: World, records: list[dict[str, Any]]) -> tuple[bytes, str]:
    st = w.stations["S1"]
    seqs = st.seqs(len(records))
    body = encode_batch("S1", NOW, [dict(r, seq=s) for r, s in zip(records, seqs, strict=True)])
    return body, sign(st.key, body)


def test_batches_of_one_station_in_one_transaction_follow_each_other(database_url: str) -> None:
    with world(database_url, now=NOW) as w:
        w.mine("M1", trips=("K1",))
        batches = [
            [totalizer(0, NOW - timedelta(minutes=30), "B1", "100")],
            [
                totalizer(0, NOW - timedelta(minutes=20), "B1", "101.5"),
                trip(0, NOW - timedelta(minutes=20), "K1", "3"),
            ],
            [totalizer(0, NOW - timedelta(minutes=10), "B1", "104")],
        ]
        bodies = [_body(w, records) for records in batches]
        state = w.client.app.state.coalwatch  # type: ignore[attr-defined]
        limits = service.IngestLimits(clock_skew=timedelta(minutes=5), max_records=500)
        with transaction(state.sessions) as session:
            attach(session, state.broker)
            answers = [
                service.ingest_batch(session, "S1", body, signature, NOW, limits)
                for body, signature in bodies
            ]
            # a batch sent again in the same transaction is known as already received
            again = service.ingest_batch(session, "S1", *bodies[1], NOW, limits)
        assert [a.acked_seq for a in answers] == [1, 3, 4]
        assert all(not a.duplicates and not a.rejected and not a.gaps for a in answers)
        assert (again.acked_seq, again.duplicates) == (4, 2)

        with state.sessions() as session:
            station = session.scalars(select(Station).where(Station.code == "S1")).one()
            belt = session.scalars(select(Point).where(Point.code == "B1")).one()
            assert (station.max_seq, belt.last_total_seq, belt.last_total_kg) == (4, 4, 104_000)
        kept = w.ok(w.get("/mines/M1/records", point="B1", type="totalizer"))["items"]
        assert [(r["increment_t"], r["increment_kind"]) for r in kept] == [
            (0, "baseline"),
            (1.5, "normal"),
            (2.5, "normal"),
        ]
        days = w.ok(
            w.get(
                "/mines/M1/production",
                period="day",
                **{"from": "2026-03-15T00:00:00+08:00", "to": "2026-03-16T00:00:00+08:00"},
            )
        )["items"]
        assert Decimal(days[0]["gross_t"]) == Decimal("7")  # the belt's 1.5 + 2.5 t, a 3 t trip
