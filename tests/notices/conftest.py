"""The two-center fixtures of the federation tests: a downstream center (SQLite,
forwarding as "MC"); the upstream on SQLite too (nothing here is storage-specific)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.federation.conftest import down, down_url

__all__ = ["down", "down_url", "upstream_url"]


@pytest.fixture
def upstream_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "upstream.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"
