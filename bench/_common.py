"""What both benchmarks share: a fresh database per backend, and figures."""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

import coalwatch
from coalwatch.acceptance.models import AcceptanceDecision
from coalwatch.storage import migrate
from coalwatch.storage.models import Mine
from coalwatch.storage.session import make_engine

PG_SERVER = os.environ.get(
    "COALWATCH_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Database:
    backend: str
    url: str
    where: str  # a file or a schema, for the report


@contextmanager
def fresh_database(backend: str, name: str) -> Iterator[Database]:
    """A migrated, empty database of its own, removed afterwards.

    SQLite: a file in a temporary directory. PostgreSQL: a schema of its own in
    the test database, reached through ``search_path`` in the URL.
    """
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=f"coalwatch-{name}-"))
        path = directory / "bench.db"
        url = f"sqlite:///{path}"
        try:
            _migrate(url)
            yield Database(backend, url, str(path))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    schema = f"bench_{name}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = (
            make_url(PG_SERVER)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        _migrate(url)
        yield Database(backend, url, f"schema {schema}")
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def backends(choice: str) -> Sequence[str]:
    return BACKENDS if choice == "both" else (choice,)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    """One line that says where and when the figures were taken."""
    cpus = os.cpu_count()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{stamp}, {platform.python_implementation()} {platform.python_version()}, "
        f"{cpus} CPUs, {load()}, code {revision()}"
    )


def revision() -> str:
    """The commit measured, "+changes" when the working tree differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    described = f"{head}{' +changes in src' if dirty else ''}"
    imported = Path(coalwatch.__file__).resolve().parent
    if not imported.is_relative_to(root / "src"):
        described += f", but coalwatch imported from {imported}"
    return described


def targets(rows: Sequence[tuple[str, str, bool]]) -> None:
    """The province targets this script measures, each beside this run's figure (the
    targets are figures to reach on this 2-core machine, never asserted by tests)."""
    print(f"  targets ({load()}):")
    for name, measured, met in rows:
        print(f"    {'met    ' if met else 'NOT met'}  {name}: {measured}")


def load() -> str:
    """The load average: figures taken on a busy machine are slower, and say so."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


#: set in the process ``instructions`` starts under callgrind: it counts only between
#: ``Instructions.enable`` and ``disable``
_UNDER_CALLGRIND = "COALWATCH_BENCH_CALLGRIND_OUT"


class Instructions:
    """Callgrind's count of the instructions this process runs between ``enable`` and
    ``disable`` (an object of cProfile's shape where a bench takes a profile). The count is
    the same from one run to the next whatever else the machine does, where CPU seconds
    on this machine swing by a third: what a change to the hot path saves shows in it."""

    def enable(self) -> None:
        self._switch("on")

    def disable(self) -> None:
        self._switch("off")

    def _switch(self, state: str) -> None:
        subprocess.run(
            ["callgrind_control", "--instr", state, str(os.getpid())],
            check=True,
            capture_output=True,
        )


def under_callgrind() -> bool:
    return _UNDER_CALLGRIND in os.environ


def instructions(script: str, argv: Sequence[str]) -> int:
    """Run ``script`` with ``argv`` again under valgrind's callgrind, counting nothing until
    it calls ``Instructions.enable``; the instructions it counted (its output goes on to
    this one's)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian's package valgrind)")
    with tempfile.TemporaryDirectory(prefix="cw-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                script,
                *argv,
            ],
            check=True,
            env={**os.environ, _UNDER_CALLGRIND: str(out)},
            stderr=subprocess.DEVNULL,
        )
        for line in out.read_text().splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise SystemExit(f"callgrind wrote no totals in {out}")


def accept_all(url: str) -> int:
    """Every mine's system accepted long before the run, as in a province in service (what
    migration 0030 records for the mines a center holds when it is installed): otherwise
    each mine's first production raises ``unaccepted_production`` and the timed rules
    raise one for each mine, alarms no real province raises at once."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            mine_ids = list(connection.scalars(select(Mine.id)))
            connection.execute(
                insert(AcceptanceDecision),
                [
                    {
                        "mine_id": mine_id,
                        "kind": "acceptance",
                        "passed": True,
                        "state": "accepted",
                        "decided_on": date(2000, 1, 1),
                        "decided_at": datetime.now(UTC),
                        "decided_by": "系统升级",
                    }
                    for mine_id in mine_ids
                ],
            )
    finally:
        engine.dispose()
    return len(mine_ids)
