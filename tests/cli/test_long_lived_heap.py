"""The long-running processes (``serve``, its workers, ``jobs``) leave what they were
built of out of the garbage collector's scans: a full collection of a server's start-up
objects stops every thread for a few hundred milliseconds."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from coalwatch import cli
from coalwatch.web import app as web_app

#: fewer objects than a built app holds (some 260,000)
BUILT = 100_000


@pytest.fixture
def environment(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COALWATCH_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COALWATCH_JOBS", "false")
    monkeypatch.delenv("COALWATCH_CONFIG", raising=False)
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # this test process is not long-lived: its objects collected again


def test_serve_freezes_what_it_was_built_of_before_it_serves(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []

    def run(app: Any, **_kwargs: Any) -> None:
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(uvicorn, "run", run)
    assert cli.main(["serve", "--host", "127.0.0.1", "--port", "1"]) == 0
    assert len(frozen) == 1 and frozen[0] > BUILT


def test_a_worker_of_serve_workers_freezes_its_app(environment: None) -> None:
    web_app.app_from_environment()
    assert gc.get_freeze_count() > BUILT


def test_the_jobs_process_freezes_before_it_runs(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []

    def run_jobs(_settings: Any, _stop: threading.Event) -> None:
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(web_app, "run_jobs", run_jobs)
    assert cli.main(["jobs"]) == 0
    assert len(frozen) == 1 and frozen[0] > BUILT
