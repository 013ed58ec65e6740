"""Fee items 收费项目 and their rates: exact decimals, effective dates, permissions, audit;
on SQLite and PostgreSQL (what a request may not do, on SQLite)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from coalwatch.audit.models import AuditEntry
from coalwatch.settlement.models import FeeRate
from coalwatch.storage.session import make_engine
from tests.conftest import SQLITE_ONLY
from tests.support.world import World, totalizer, world

NOW = datetime(2026, 4, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def w(database_url: str) -> Any:
    with world(database_url, now=NOW) as w:
        w.mine("M1")
        yield w


def test_items_are_listed_with_their_rates_oldest_first(w: World) -> None:
    created = w.post(
        "/fee-items", {"code": "resource_tax", "name": "资源税", "description": "从量计征"}
    )
    assert created.status_code == 201
    assert created.json() == {
        "code": "resource_tax",
        "name": "资源税",
        "description": "从量计征",
        "rates": [],
    }
    w.ok(
        w.post("/fee-items/resource_tax/rates", {"yuan_per_t": "5", "effective_from": "2026-01-01"})
    )
    answer = w.post(
        "/fee-items/resource_tax/rates", {"yuan_per_t": "5.1234", "effective_from": "2026-03-16"}
    )
    assert answer.status_code == 201
    items = w.ok(w.get("/fee-items"))["items"]
    assert [(r["yuan_per_t"], r["effective_from"]) for r in items[0]["rates"]] == [
        (5, "2026-01-01"),
        (5.1234, "2026-03-16"),
    ]
    assert items[0]["rates"][0]["created_by"] == "token:test"


def test_rates_are_stored_exactly_as_ten_thousandths_of_a_yuan(w: World) -> None:
    w.ok(w.post("/fee-items", {"code": "fund", "name": "煤炭价格调节基金"}))
    w.ok(w.post("/fee-items/fund/rates", {"yuan_per_t": "0.8765", "effective_from": "2026-01-01"}))
    engine = make_engine(w.url)
    with engine.connect() as connection:
        stored = connection.execute(select(FeeRate.rate_ten_thousandths)).scalar_one()
    engine.dispose()
    assert stored == 8765


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("rate", "reason"),
    [
        ("5.12345", "4 decimals"),
        (5.12345, "4 decimals"),
        ("-1", "greater than or equal to 0"),
        ("NaN", "finite"),
        ("abc", "decimal"),
        ("1000001", "less than or equal to 1000000"),
    ],
)
def test_rates_are_refused_not_rounded(w: World, rate: Any, reason: str) -> None:
    w.ok(w.post("/fee-items", {"code": "fee", "name": "费"}))
    response = w.post("/fee-items/fee/rates", {"yuan_per_t": rate, "effective_from": "2026-01-01"})
    assert response.status_code == 422, response.text
    assert reason in response.json()["error"]["message"]


def test_item_codes_are_unique_and_must_exist(w: World) -> None:
    w.ok(w.post("/fee-items", {"code": "fee", "name": "费"}))
    assert w.post("/fee-items", {"code": "fee", "name": "另一个"}).status_code == 409
    missing = w.post("/fee-items/nope/rates", {"yuan_per_t": "1", "effective_from": "2026-01-01"})
    assert missing.status_code == 404


@SQLITE_ONLY
def test_a_read_token_cannot_define_fees(w: World) -> None:
    read = w.token_for(None)
    assert w.post("/fee-items", {"code": "fee", "name": "费"}, token=read).status_code == 403
    assert w.get("/fee-items", token=read).status_code == 200


def test_every_change_is_audited(w: World) -> None:
    w.ok(w.post("/fee-items", {"code": "fee", "name": "费"}))
    w.ok(w.post("/fee-items/fee/rates", {"yuan_per_t": "2.5", "effective_from": "2026-03-01"}))
    engine = make_engine(w.url)
    with engine.connect() as connection:
        entries = connection.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_key, AuditEntry.detail)
            .where(AuditEntry.entity == "fee_item")
            .order_by(AuditEntry.id)
        ).all()
    engine.dispose()
    assert [(e.actor, e.action, e.entity_key) for e in entries] == [
        ("token:test", "fee_item.create", "fee"),
        ("token:test", "fee_item.rate", "fee"),
    ]
    assert json.loads(entries[1].detail) == {"yuan_per_t": "2.5", "effective_from": "2026-03-01"}


def test_a_correction_for_the_same_date_is_in_force(w: World) -> None:
    # 10 t raw on 5 March; 2.00 yuan/t given, then corrected to 2.50 for the same date:
    # 10 × 2.50 = 25.00, and both rates stay on record
    w.ok(
        w.upload(
            "S1",
            [
                totalizer(1, datetime(2026, 3, 5, 1, 0, tzinfo=UTC), "B1", "100"),
                totalizer(2, datetime(2026, 3, 5, 2, 0, tzinfo=UTC), "B1", "110"),
            ],
        )
    )
    w.ok(w.post("/fee-items", {"code": "fee", "name": "费"}))
    w.ok(w.post("/fee-items/fee/rates", {"yuan_per_t": "2.00", "effective_from": "2026-03-01"}))
    w.ok(w.post("/fee-items/fee/rates", {"yuan_per_t": "2.50", "effective_from": "2026-03-01"}))
    statement = w.ok(w.get("/mines/M1/statements/2026-03"))
    assert [(line["yuan_per_t"], Decimal(str(line["amount"]))) for line in statement["lines"]] == [
        (2.5, Decimal("25"))
    ]
    assert len(w.ok(w.get("/fee-items"))["items"][0]["rates"]) == 2
