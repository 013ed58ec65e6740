"""Every change to the organisation and a mine's configuration is in the audit log."""

from __future__ import annotations

import json

from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.audit.service import verify
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from tests.support.world import world


def test_configuration_changes_are_audited(database_url: str) -> None:
    with world(database_url) as w:
        w.mine("M1")  # org, mine, point and station through the API
        w.ok(
            w.put(
                "/mines/M1/capacity", {"annual_capacity_t": 660000, "effective_from": "2026-07-01"}
            )
        )
        w.ok(w.put("/mines/M1/plans/2026-03", {"month_t": 20000}))
        w.ok(
            w.post(
                "/mines/M1/coefficients",
                {"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-06-30"},
            )
        )
    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.action, e.entity_key) for e in entries] == [
            ("token.create", "test"),  # the world's own write token
            ("org.create", "C1"),
            ("mine.create", "M1"),
            ("point.create", "M1/B1"),
            ("station.register", "S1"),
            ("mine.capacity", "M1"),
            ("mine.plan", "M1/2026-03"),
            ("mine.coefficient", "M1"),
        ]
        assert json.loads(entries[5].detail)["annual_capacity_t"] == "660000"
        assert entries[0].actor.startswith("operator")
        assert all(e.actor == "token:test" for e in entries[1:])
        assert verify(session) is None
    engine.dispose()
