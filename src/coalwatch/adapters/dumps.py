"""Database dumps 备份文件: SQLite's online backup API, PostgreSQL's pg_dump / pg_restore.

Only the mechanics: which file goes where, with which tool. What a backup means
(ledger, manifests, figures, schedule) is coalwatch.backups.service.

PostgreSQL is reached through the libpq environment (PGHOST, PGUSER, PGPASSWORD ...),
never a command line that would show the password in the process list or a message.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL, make_url

from coalwatch.errors import CoalwatchError
from coalwatch.storage.files import private_dir, private_file, private_sqlite

#: libpq connection parameters that may ride in the URL's query, and their variables
_LIBPQ_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "host": "PGHOST",
    "port": "PGPORT",
}
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
#: where Debian and Ubuntu keep each major version's client programs
PG_LIB = Path("/usr/lib/postgresql")
#: a dump or restore of a province's database takes long, but not forever
TOOL_TIMEOUT_S = 6 * 3600
_CHUNK = 1 << 20


class DumpFailed(CoalwatchError):
    """A backup tool is missing, does not fit the server, or failed (the message says)."""

    status = 503
    code = "backup_failed"


class SchemaTaken(CoalwatchError):
    """The schema pg_restore would create exists in the target database already."""

    status = 409
    code = "conflict"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise DumpFailed("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def sqlite_backup(source: Path, target: Path) -> None:
    """A consistent copy of ``source`` while the center writes to it (online backup API),
    as a single file (rollback journal, no WAL beside it)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        private_sqlite(target)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def sqlite_restore(backup: Path, target: Path) -> None:
    """Replace the content of ``target`` (created if missing) with the backup's, through
    the backup API, so that a WAL beside the target cannot outlive the old content."""
    private_dir(target.parent)
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        private_sqlite(target)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


@dataclass(frozen=True, slots=True)
class PgDatabase:
    """A PostgreSQL database (and the schema the center lives in) as libpq sees it."""

    host: str | None
    port: int | None
    user: str | None
    password: str | None = None
    dbname: str = ""
    #: the schema named by ``options=-csearch_path=...`` ("public" when none)
    schema: str = "public"
    extra_env: tuple[tuple[str, str], ...] = ()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(self.extra_env)
        for name, value in (
            ("PGHOST", self.host),
            ("PGPORT", None if self.port is None else str(self.port)),
            ("PGUSER", self.user),
            ("PGPASSWORD", self.password),
            ("PGDATABASE", self.dbname),
        ):
            if value:
                env[name] = value
        return env

    def describe(self) -> str:
        """Where, without the password."""
        where = f"{self.host or 'localhost'}:{self.port or 5432}/{self.dbname}"
        return f"{where} schema {self.schema}"


def pg_database(url: str | URL) -> PgDatabase:
    parsed = make_url(url) if isinstance(url, str) else url
    extra: list[tuple[str, str]] = []
    schema = "public"
    for key, value in parsed.query.items():
        values = value if isinstance(value, tuple) else (value,)
        if key == "options":
            for option in values:
                found = _SEARCH_PATH.search(option)
                if found:
                    schema = found.group(1).split(",")[0].strip('"')
        elif key in _LIBPQ_ENV:
            extra.append((_LIBPQ_ENV[key], values[-1]))
    return PgDatabase(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password if isinstance(parsed.password, str) else None,
        dbname=parsed.database or "",
        schema=schema,
        extra_env=tuple(extra),
    )


def tool_major(tool: Path) -> int:
    try:
        out = subprocess.run(
            [str(tool), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise DumpFailed(f"{tool} --version failed: {exc}") from exc
    found = _VERSION.search(out)
    if not found:
        raise DumpFailed(f"cannot read the version of {tool}: {out.strip()!r}")
    return int(found.group(1))


def pg_tool(name: str, server_major: int) -> Path:
    """pg_dump or pg_restore of the server's major version: the versioned directory
    first (/usr/lib/postgresql/N/bin), then PATH."""
    candidates = [PG_LIB / str(server_major) / "bin" / name]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    seen: list[str] = []
    for tool in candidates:
        if not tool.is_file():
            continue
        major = tool_major(tool)
        if major == server_major:
            return tool
        seen.append(f"{tool} is version {major}")
    if not seen:
        raise DumpFailed(
            f"{name} not found (PATH, {PG_LIB}/{server_major}/bin): install the PostgreSQL "
            f"{server_major} client programs (Debian: postgresql-client-{server_major})"
        )
    raise DumpFailed(
        f"{name} must be of the server's major version {server_major}, but "
        + "; ".join(seen)
        + f": install postgresql-client-{server_major}"
    )


def any_pg_tool(name: str) -> Path:
    """A pg_restore (or other client program) of any version: PATH, then the newest
    versioned directory. For reading a dump's contents, which needs no server."""
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    versions = sorted(
        (p for p in PG_LIB.glob(f"*/bin/{name}") if p.parent.parent.name.isdigit()),
        key=lambda p: int(p.parent.parent.name),
    )
    if not versions:
        raise DumpFailed(f"{name} not found (PATH, {PG_LIB}/*/bin): install the PostgreSQL client")
    return versions[-1]


def _run(command: list[str], database: PgDatabase, what: str) -> str:
    try:
        done = subprocess.run(
            command,
            env=database.env(),
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DumpFailed(f"{what} of {database.describe()} failed: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.strip()[-2000:] or f"exit status {done.returncode}"
        if database.password:
            detail = detail.replace(database.password, "***")
        raise DumpFailed(f"{what} of {database.describe()} failed: {detail}")
    return done.stdout


def pg_dump(
    tool: Path,
    database: PgDatabase,
    target: Path,
    snapshot: str | None = None,
    *,
    lock_wait_ms: int = 60_000,
    exclude_data: Sequence[str] = (),
    data_of: str | None = None,
) -> None:
    """``pg_dump --format=custom`` of the center's schema, in the exported ``snapshot``
    (the one the figures were computed in) when given; it fails rather than wait longer
    than ``lock_wait_ms`` for a table another transaction holds.

    ``exclude_data``: tables of the schema dumped without their rows; ``data_of``: only
    the rows of that one table of the schema (``--data-only``)."""
    if data_of is None:
        what = [f"--schema={database.schema}"]
        what += [f"--exclude-table-data={_qualified(database, t)}" for t in exclude_data]
    else:
        what = ["--data-only", f"--table={_qualified(database, data_of)}"]
    command = [
        str(tool),
        "--format=custom",
        *what,
        f"--file={target}",
        f"--lock-wait-timeout={lock_wait_ms}",
        "--no-password",
    ]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    private_file(target)  # pg_dump truncates it and keeps its mode
    _run(command, database, "pg_dump")


def _qualified(database: PgDatabase, table: str) -> str:
    """A pg_dump pattern that matches exactly that table of the center's schema."""
    return f'"{database.schema}"."{table}"'


def pg_restore(tool: Path, database: PgDatabase, dump: Path, *, data_only: bool = False) -> None:
    """Everything in ``dump`` into the database, in one transaction: all or nothing."""
    _run(
        [
            str(tool),
            *(["--data-only"] if data_only else []),
            f"--dbname={database.dbname}",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            str(dump),
        ],
        database,
        "pg_restore",
    )


def pg_list(tool: Path, dump: Path) -> str:
    """The dump's table of contents (proves pg_restore can read it; no server needed)."""
    return _run([str(tool), "--list", str(dump)], PgDatabase(None, None, None), "pg_restore --list")


def pg_restore_schema(
    engine: Engine,
    tool: Path,
    database: PgDatabase,
    dump: Path,
    source: str,
    aside: str,
    *,
    data: Sequence[Path] = (),
    finish: Callable[[Connection, str], None] | None = None,
) -> None:
    """Restore a dump of schema ``source`` into the database under the target's schema
    name (``database.schema``), then the rows of the ``data`` dumps (``--data-only`` of
    tables of that schema), then ``finish`` (given the restored schema's name before it
    is renamed) in the transaction that renames it. A target schema already there is
    renamed to ``aside`` and dropped only once all of it has succeeded; on failure it is
    put back."""
    target = database.schema
    with engine.connect() as connection:
        schemas = set(connection.scalars(text("SELECT nspname FROM pg_namespace")).all())
    if source != target and source in schemas:
        raise SchemaTaken(
            f"the backup holds schema {source!r}, which exists in database "
            f"{database.dbname!r}: restore into another database, or into schema {source!r}"
        )
    moved = target in schemas
    if moved:
        with engine.begin() as connection:
            connection.execute(text(f'ALTER SCHEMA "{target}" RENAME TO "{aside}"'))
    try:
        pg_restore(tool, database, dump)
        for rows in data:
            pg_restore(tool, database, rows, data_only=True)
        with engine.begin() as connection:
            if finish is not None:
                finish(connection, source)
            if source != target:
                connection.execute(text(f'ALTER SCHEMA "{source}" RENAME TO "{target}"'))
            if moved:
                connection.execute(text(f'DROP SCHEMA "{aside}" CASCADE'))
    except BaseException:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{source}" CASCADE'))
            if moved:
                connection.execute(text(f'ALTER SCHEMA "{aside}" RENAME TO "{target}"'))
        raise
