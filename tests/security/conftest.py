"""One seeded center on SQLite for the scope and CSRF tests of this package, and one of its
own for the matrix (its writes and theirs must not meet: a role the CSRF test created, a
report it signed, would change a cell's answer)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.site import Site, site


def _sqlite_site(factory: pytest.TempPathFactory, template: Path) -> Iterator[Site]:
    path = factory.mktemp("security") / "coalwatch.db"
    shutil.copy(template, path)
    with site(f"sqlite:///{path}") as s:
        yield s


@pytest.fixture(scope="package")
def s(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    yield from _sqlite_site(tmp_path_factory, sqlite_template)


@pytest.fixture(scope="module")
def matrix_site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    yield from _sqlite_site(tmp_path_factory, sqlite_template)
