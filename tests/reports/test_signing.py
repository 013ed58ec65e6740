"""Signing the daily report 审阅签字: order, roles and permissions enforced by the server;
a signed revision is frozen, a correction yields the next revision (to be signed again)
and the signed one stays intact; the last signature submits the report upward."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import OPERATOR, Principal
from coalwatch.domain.reports import Signer
from coalwatch.errors import Forbidden
from coalwatch.reports import service
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import service as users
from coalwatch.users.schemas import UserIn
from tests.conftest import SQLITE_ONLY
from tests.reports.test_daily import DAY, URL, fixture_day, local
from tests.support.world import World, world

SIGN = f"{URL}/sign"
PASSWORD = "Coal-watch-2026!"
#: username → built-in roles
USERS = {
    "operator1": ["duty_operator"],
    "manager1": ["duty_mine_manager"],
    "chief1": ["chief_engineer"],
    "dispatcher1": ["dispatcher"],
}


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=local(2026, 3, 15, 12, 0)) as w:
        fixture_day(w)
        with db(w) as session:
            for username, roles in USERS.items():
                users.create_user(
                    session,
                    OPERATOR,
                    UserIn(username=username, name=username, roles=roles, password=PASSWORD),
                    w.clock(),
                )
        yield w


@contextmanager
def db(w: World) -> Iterator[Session]:
    engine = make_engine(w.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def as_user(session: Session, username: str, w: World) -> Principal:
    from coalwatch.users import repository

    user = repository.user_by_username(session, username)
    assert user is not None
    found = users.signed_in(
        session, user.id, users.stamp(user), w.clock(), users.Policy(None, 5, None)
    )
    assert found is not None
    return found[0]


def sign_as(w: World, username: str, role: Signer) -> Any:
    with db(w) as session:
        return service.sign(session, as_user(session, username, w), "M1", DAY, role, w.clock())


def test_users_sign_in_order_and_the_last_signature_submits_upward(w: World) -> None:
    sign_as(w, "operator1", Signer.DUTY_OPERATOR)
    sign_as(w, "manager1", Signer.DUTY_MINE_MANAGER)
    w.clock.advance(minutes=5)
    report = sign_as(w, "chief1", Signer.CHIEF_ENGINEER)
    assert [(s.role.value, s.signer) for s in report.signatures] == [
        ("duty_operator", "operator1"),
        ("duty_mine_manager", "manager1"),
        ("chief_engineer", "chief1"),
    ]
    assert report.next_signer is None and report.frozen
    assert report.submitted_at == local(2026, 3, 15, 12, 5)
    r = w.ok(w.get(URL))
    assert r["submitted_at"] is not None and len(r["signatures"]) == 3
    with db(w) as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-4:] == ["report.sign", "report.sign", "report.sign", "report.submit"]


@SQLITE_ONLY
def test_out_of_order_is_refused(w: World) -> None:
    with pytest.raises(Forbidden) as refused:
        sign_as(w, "manager1", Signer.DUTY_MINE_MANAGER)
    assert refused.value.code == "out_of_order"
    sign_as(w, "operator1", Signer.DUTY_OPERATOR)
    with pytest.raises(Forbidden) as again:
        sign_as(w, "operator1", Signer.DUTY_OPERATOR)
    assert again.value.code == "out_of_order"


@SQLITE_ONLY
def test_a_user_signs_only_in_a_role_held(w: World) -> None:
    # the chief engineer holds report:sign but is not the duty operator
    with pytest.raises(Forbidden) as refused:
        sign_as(w, "chief1", Signer.DUTY_OPERATOR)
    assert refused.value.code == "wrong_role"


@SQLITE_ONLY
def test_without_report_sign_is_refused(w: World) -> None:
    with pytest.raises(Forbidden) as refused:
        sign_as(w, "dispatcher1", Signer.DUTY_OPERATOR)
    assert refused.value.details == {"permission": "report:sign"}


def test_tokens_sign_over_the_api_in_order_only_with_write(w: World) -> None:
    read = w.token_for(None, write=False)
    answer = w.post(SIGN, {"role": "duty_operator"}, token=read)
    assert answer.status_code == 403
    answer = w.post(SIGN, {"role": "chief_engineer"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "out_of_order"
    assert w.post(SIGN, {"role": "nobody"}).status_code == 422
    for role in ("duty_operator", "duty_mine_manager", "chief_engineer"):
        w.ok(w.post(SIGN, {"role": role}))
    assert w.post(SIGN, {"role": "chief_engineer"}).status_code == 403


def test_pending_lists_the_reports_waiting_for_the_user(w: World) -> None:
    w.ok(w.get(URL))  # the report exists (revision 1)
    with db(w) as session:
        assert [p.mine for p in service.pending(session, as_user(session, "operator1", w))] == [
            "M1"
        ]
        assert service.pending(session, as_user(session, "manager1", w)) == []
    sign_as(w, "operator1", Signer.DUTY_OPERATOR)
    with db(w) as session:
        waiting = service.pending(session, as_user(session, "manager1", w))
        assert [(p.mine, p.next_signer) for p in waiting] == [("M1", Signer.DUTY_MINE_MANAGER)]


def test_a_correction_after_signing_yields_revision_2_and_keeps_revision_1(w: World) -> None:
    first = w.ok(w.post(SIGN, {"role": "duty_operator"}))
    assert first["revision"] == 1 and first["frozen"] is True
    # a late record of the 14th arrives: a trip of 8 t at 20:00 on a new skip point
    w.ok(w.post("/mines/M1/points", {"code": "K1", "name": "主井箕斗", "kind": "skip"}))
    seq = w.stations["S1"].seqs(1)[0]
    w.ok(
        w.upload(
            "S1",
            [
                {
                    "seq": seq,
                    "ts": local(2026, 3, 14, 20),
                    "type": "trip",
                    "point": "K1",
                    "net_t": "8",
                }
            ],
        )
    )
    # revision 1 is frozen: shown as it was signed, marked stale
    r = w.ok(w.get(URL))
    assert (r["revision"], r["stale"], Decimal(str(r["day"]["gross_t"]))) == (
        1,
        True,
        Decimal("212.625"),
    )
    assert w.post(SIGN, {"role": "duty_mine_manager"}).status_code == 409
    second = w.ok(w.post(f"{URL}/regenerate", {}))
    # 212.625 + 8 = 220.625 t gross; raw 220.625 × 0.955 = 210.696875 → 210.697
    assert second["revision"] == 2 and second["signatures"] == [] and not second["frozen"]
    assert Decimal(str(second["day"]["gross_t"])) == Decimal("220.625")
    assert Decimal(str(second["day"]["raw_t"])) == Decimal("210.697")
    assert second["next_signer"] == "duty_operator"
    revisions = w.ok(w.get(f"{URL}/revisions"))["items"]
    assert [(i["revision"], [s["role"] for s in i["signatures"]]) for i in revisions] == [
        (1, ["duty_operator"]),
        (2, []),
    ]
    assert revisions[0]["sha256"] == first["sha256"] != revisions[1]["sha256"]
    assert revisions[0]["signatures"][0]["sha256"] == first["sha256"]
    # the signed revision's snapshot is intact
    with db(w) as session:
        from coalwatch.reports import repository
        from coalwatch.storage.models import Mine

        mine = session.scalars(select(Mine).where(Mine.code == "M1")).one()
        old = repository.revisions(session, mine.id, date(2026, 3, 14))[0]
        import hashlib

        assert hashlib.sha256(old.content.encode()).hexdigest() == first["sha256"]
        assert '"gross_t":212.625' in old.content


def test_an_unsigned_revision_is_refreshed_in_place(w: World) -> None:
    assert w.ok(w.get(URL))["revision"] == 1
    w.ok(w.post("/mines/M1/points", {"code": "K1", "name": "主井箕斗", "kind": "skip"}))
    seq = w.stations["S1"].seqs(1)[0]
    w.ok(
        w.upload(
            "S1",
            [
                {
                    "seq": seq,
                    "ts": local(2026, 3, 14, 20),
                    "type": "trip",
                    "point": "K1",
                    "net_t": "8",
                }
            ],
        )
    )
    r = w.ok(w.get(URL))
    assert (r["revision"], r["stale"], Decimal(str(r["day"]["gross_t"]))) == (
        1,
        False,
        Decimal("220.625"),
    )


def test_shifts_are_configurable_and_audited(w: World) -> None:
    assert w.ok(w.get("/mines/M1/reports/shifts"))["default"] is True
    bad = w.put(
        "/mines/M1/reports/shifts",
        {"shifts": [{"name": "白班", "start_hour": 8, "hours": 12}]},
    )
    assert bad.status_code == 422
    two = {
        "shifts": [
            {"name": "白班", "start_hour": 8, "hours": 12},
            {"name": "夜班", "start_hour": 20, "hours": 12},
        ]
    }
    assert w.ok(w.put("/mines/M1/reports/shifts", two))["default"] is False
    r = w.ok(w.get(URL))
    # 白班 08–20: 54.75 + 12.5 + 50 = 117.25 t; 夜班 20–08: 30.5 + 40 + 24.875 = 95.375 t
    assert [(s["name"], Decimal(str(s["gross_t"]))) for s in r["shifts"]] == [
        ("白班", Decimal("117.25")),
        ("夜班", Decimal("95.375")),
    ]
    with db(w) as session:
        assert "report.shifts" in set(session.scalars(select(AuditEntry.action)))
