"""One seeded center on SQLite for the matrix, scope and CSRF tests of this package."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.site import Site, site


@pytest.fixture(scope="package")
def s(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("security") / "coalwatch.db"
    shutil.copy(sqlite_template, path)
    with site(f"sqlite:///{path}") as s:
        yield s
