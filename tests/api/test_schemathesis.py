"""Schemathesis against the OpenAPI document: for every operation, generated requests
(valid and invalid, with a write token) get no 5xx and no answer that breaks the
documented schema, on SQLite and on PostgreSQL.

The document is loaded once (at collection) and each backend's world is seeded once for
the module. Generating the requests costs most of the time, so each case generates them
once, sends them to SQLite and sends the same ones again to PostgreSQL (one case for both:
cases of their own would run on different workers, and each would generate them).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coalwatch.config import Settings
from coalwatch.web.app import create_app
from tests.conftest import BACKENDS, _truncate_postgres
from tests.support.world import World, totalizer, world

NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
CHECKS = (
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
)
MAX_EXAMPLES = 5
#: an operation without a body varies only its path and query: fewer examples cover them
BODYLESS_EXAMPLES = 3
#: a stream never ends by itself; it has tests of its own
SKIPPED = {("GET", "/api/v1/events")}


def _schema() -> Any:
    app = create_app(Settings(database_url="sqlite:///:memory:", jobs=False))
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


SCHEMA = _schema()
#: (method, path) → the operation of the document
OPERATIONS = {
    (op.method.upper(), op.path): op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
    if (op.method.upper(), op.path) not in SKIPPED
}


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, postgres_schema: str
) -> Iterator[dict[str, World]]:
    """A world on each backend, by backend: PostgreSQL refuses some inputs SQLite takes (a
    NUL in a text, an integer beyond 64 bits), and these must be 4xx there too."""
    path = tmp_path_factory.mktemp("schemathesis") / "db.sqlite"
    shutil.copy(sqlite_template, path)
    _truncate_postgres(postgres_schema)
    urls = {"sqlite": f"sqlite:///{path}", "postgresql": postgres_schema}
    with ExitStack() as stack:
        worlds = {
            backend: stack.enter_context(world(urls[backend], now=NOW)) for backend in BACKENDS
        }
        for w in worlds.values():
            w.mine("M1", org="C1", trips=("K1",))
            w.ok(w.upload("S1", [totalizer(1, NOW, "B1", "10"), totalizer(2, NOW, "B1", "12")]))
        yield worlds


def _check(case: Any, w: World) -> None:
    """The case sent to ``w``'s center with its write token, and its answer checked."""
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {w.token}"}
    response = case.call(app=w.client.app)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_operation_answers_by_its_schema(
    seeded: dict[str, World], method: str, path: str, mode: GenerationMode
) -> None:
    operation = OPERATIONS[(method, path)]
    cases: list[Any] = []

    # few examples, always the same ones (derandomize): part of every `make test`
    @settings(
        max_examples=MAX_EXAMPLES if list(operation.body) else BODYLESS_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        cases.append(case)
        _check(case, seeded["sqlite"])

    run()
    for case in cases:
        _check(case, seeded["postgresql"])
