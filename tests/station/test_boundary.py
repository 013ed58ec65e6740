"""The station never imports center code (style.md, rule 10): only domain and wire."""

from __future__ import annotations

import subprocess
import sys

ALLOWED = ("coalwatch.station", "coalwatch.domain", "coalwatch.wire")


def test_the_station_imports_nothing_of_the_center() -> None:
    code = (
        "import coalwatch.station.agent, coalwatch.station.cli, sys; "
        "print('\\n'.join(sorted(m.split('.')[0] if not m.startswith('coalwatch') else m "
        "for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    modules = set(out.split())
    assert "coalwatch.station.agent" in modules
    ours = {m for m in modules if m.startswith("coalwatch")}
    outside = sorted(
        m
        for m in ours
        if m != "coalwatch" and not any(m == a or m.startswith(a + ".") for a in ALLOWED)
    )
    assert outside == []
    # nor the center's libraries: a station computer needs none of them
    assert not modules & {"sqlalchemy", "fastapi", "uvicorn", "alembic", "starlette"}
