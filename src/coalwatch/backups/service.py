"""Backups 备份: make, list, restore and prune them; the schedule; the ledger 备份记录.

A backup is a file in the backup directory (SQLite: a copy made by the online backup
API; PostgreSQL: ``pg_dump --format=custom`` of the center's schema) and a manifest
``<file>.json`` beside it with its SHA-256 and the figures fingerprint
(coalwatch.backups.figures) computed on exactly what the file holds. The ledger rows
live in the database itself, so a restore brings back an older ledger: the rows of the
later backups are re-inserted from their manifests (:func:`sync_ledger`).

On PostgreSQL the raw months past the retention are archived to files and dropped
(coalwatch.partitions): a backup holds the rollups, the configuration and the raw
months still in the database, and its manifest names the archive files of the others.
The rows of each closed raw month are dumped once to a month file of their own beside
the backups and named by every later backup while the month is unchanged
(coalwatch.backups.months); the main file holds the rest.

Backups and prunes of one directory exclude each other through a lock file in it
(:data:`LOCK_FILE`, ``flock``: every process on the machine, whatever the database): a
backup, a restore and a verification hold it shared (they run side by side), a prune
exclusively, so a prune never removes a file a running backup is reusing or has just
written, nor one being restored or checked; a prune that has to wait says so in the log. What a
killed backup left is removed while nothing else holds the lock: by a prune, and by a
backup that finds the directory idle.

Backups are made by the command line, by the schedule (every ``backup_interval_days``)
and after a password or parameter change (the audit log says which changed; the job
waits for :data:`AFTER_CHANGE_QUIET` without further changes, so that a session of
edits gives one backup, not one per edit).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.adapters import dumps
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.backups import figures as fingerprint
from coalwatch.backups import months, repository
from coalwatch.backups.models import BackupEntry
from coalwatch.backups.schemas import (
    ArchivedMonth,
    BackupOut,
    Figures,
    Kind,
    Manifest,
    MonthFile,
    PruneResult,
    RestoreResult,
    Trigger,
)
from coalwatch.config import Settings
from coalwatch.errors import N_, CoalwatchError, Conflict, Forbidden, Invalid, NotFound
from coalwatch.storage import facts
from coalwatch.storage.files import private_dir, write_private
from coalwatch.storage.session import (
    LOCK_NOT_AVAILABLE,
    make_engine,
    make_sessionmaker,
    server_code,
    transaction,
)

log = logging.getLogger("coalwatch.backups")

SYSTEM = "system"
MANIFEST_SUFFIX = ".json"
#: in the backup directory: held shared while a backup is made, exclusively by a prune
LOCK_FILE = "backups.lock"
EXTENSIONS: dict[Kind, str] = {"sqlite": "sqlite3", "postgresql": "pgdump"}
#: an after-change backup waits this long after the newest change
AFTER_CHANGE_QUIET = timedelta(minutes=5)
#: after a failed scheduled backup, the job tries again this much later
RETRY_AFTER = timedelta(hours=1)
#: audit actions that are password changes (修改密码, a reset by an administrator)
PASSWORD_ACTIONS = ("password.",)
PASSWORD_RESET = ("user.update",)
PASSWORD_RESET_MARK = '"password_reset": true'
#: audit actions that change parameters 参数 and configuration (an action, or a prefix
#: ending in "."): thresholds, capacities, plans, coefficients, points, stations,
#: shifts, fees, channels, users and roles, orgs, downstream centers, system settings
PARAMETER_ACTIONS = (
    "threshold.",
    "mine.",
    "point.",
    "station.register",
    "report.shifts",
    "fee_item.",
    "channel.",
    "user.",
    "role.",
    "org.",
    "center.",
    "param.",
    "setting.",
    "config.",
)


class BackupCorrupt(Invalid):
    code = "backup_corrupt"


class TargetHoldsData(Conflict):
    code = "target_holds_data"


@dataclass(frozen=True, slots=True)
class Policy:
    """Where backups go, how often they are made and how long they are kept."""

    directory: Path
    #: None: no scheduled backups (manual and after-change ones still are)
    interval: timedelta | None
    retention: timedelta
    #: PostgreSQL: how long the dump waits for a table that another transaction holds
    #: exclusively (a migration, DDL) before it gives up with the reason; a dump that
    #: queued for ever would hold every later lock on that table behind it
    lock_wait: timedelta = timedelta(minutes=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        days = settings.backup_interval_days
        return cls(
            directory=settings.resolved_backup_dir,
            interval=timedelta(days=days) if days else None,
            retention=timedelta(days=settings.backup_retention_days),
        )


# -- the directory's lock --------------------------------------------------------------


@contextmanager
def _lock_file(directory: Path) -> Iterator[int]:
    private_dir(directory)
    descriptor = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield descriptor
    finally:
        os.close(descriptor)  # releases the lock


@contextmanager
def _backing_up(directory: Path) -> Iterator[None]:
    """Held while a backup is made (shared). When nothing else holds the directory,
    what killed backups left there is removed first."""
    with _lock_file(directory) as descriptor:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            _remove_leftovers(directory)
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield


@contextmanager
def _reading(directory: Path) -> Iterator[None]:
    """Held while a backup of the directory is read to be restored or verified (shared):
    a prune waits, and removes none of the files being read. A directory this process
    cannot write to (read-only media) is not pruned by it either, and is read as it is."""
    try:
        descriptor = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        _wait_for(descriptor, fcntl.LOCK_SH, directory, "a prune")
        yield
    finally:
        os.close(descriptor)


@contextmanager
def _pruning(directory: Path) -> Iterator[None]:
    """Held while backups are pruned (exclusive): waits for the backups being made, and
    for those being restored or verified."""
    with _lock_file(directory) as descriptor:
        _wait_for(descriptor, fcntl.LOCK_EX, directory, "the backups being made or read")
        yield


def _wait_for(descriptor: int, mode: int, directory: Path, holder: str) -> None:
    """Take the lock, saying so in the log when it has to wait."""
    try:
        fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        log.info("waiting for %s in %s", holder, directory)
        fcntl.flock(descriptor, mode)


def _remove_leftovers(directory: Path) -> None:
    """With the directory held exclusively: no backup is writing there."""
    for path in months.leftovers(directory, manifests(directory)):
        log.info("removing %s, left by a backup that did not finish", path.name)
        path.unlink(missing_ok=True)


# -- making a backup ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Facts:
    """What is known of the backed-up content, read from that same content."""

    figures: Figures
    revision: str | None
    audit_head_id: int | None
    #: the newest signed audit checkpoint the content holds (a JSON line), if any
    audit_checkpoint: str | None = None
    raw_archives: tuple[ArchivedMonth, ...] = ()


def _facts(
    session: Session, at: datetime, known: dict[str, dict[str, int]] | None = None
) -> _Facts:
    head = repository.audit_head(session)
    revision = MigrationContext.configure(session.connection()).get_current_revision()
    return _Facts(
        fingerprint.compute(session, at, known),
        revision,
        None if head is None else head[0],
        repository.newest_checkpoint(session),
        tuple(
            ArchivedMonth(
                table=a.table_name,
                month=f"{a.month_start:%Y-%m}",
                file_name=a.file_name,
                sha256=a.sha256,
                rows=a.rows,
            )
            for a in repository.raw_archives(session)
        ),
    )


def _kind(engine: Engine) -> Kind:
    name = engine.dialect.name
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise Invalid(f"backups support SQLite and PostgreSQL, not {name}")


def _file_name(directory: Path, kind: Kind, trigger: Trigger, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"coalwatch-{stamp}-{trigger}"
    name, n = f"{base}.{EXTENSIONS[kind]}", 1
    while (directory / name).exists() or (directory / f"{name}{MANIFEST_SUFFIX}").exists():
        n += 1
        name = f"{base}-{n}.{EXTENSIONS[kind]}"
    return name


@contextmanager
def _read_only_sqlite(path: Path) -> Iterator[Session]:
    """A session on a SQLite file that cannot change it (not even its journal mode)."""
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False),
    )
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _dump_sqlite(url: str, partial: Path, now: datetime) -> _Facts:
    source = dumps.sqlite_path(url)
    if not source.exists():
        raise NotFound(f"no database at {source}")
    dumps.sqlite_backup(source, partial)
    with _read_only_sqlite(partial) as session:
        return _facts(session, now)


def _dump_postgres(
    engine: Engine, directory: Path, name: str, partial: Path, now: datetime, lock_wait: timedelta
) -> tuple[_Facts, str, list[MonthFile]]:
    """pg_dump in the snapshot the figures are computed in: both see the same rows.

    Each closed raw month goes to a month file of its own (a kept backup's when its
    change mark is unchanged, else a new one), and its rows are not dumped in the main
    file nor counted again for the figures."""
    database = dumps.pg_database(engine.url)
    wait_ms = max(1, int(lock_wait.total_seconds() * 1000))
    reuse = months.reusable(directory, manifests(directory))
    with transaction(make_sessionmaker(engine)) as session:
        if months.marked(session):
            repository.ensure_change_epoch(session)
    with engine.connect() as connection:
        major = _server_major(connection.dialect.server_version_info)
        tool = dumps.pg_tool("pg_dump", major)
        connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            connection.execute(text(f"SET LOCAL lock_timeout = {wait_ms}"))
            snapshot = str(connection.scalar(text("SELECT pg_export_snapshot()")))
            try:
                with Session(bind=connection) as session:
                    closed = months.closed(session, now)
                    rows = {
                        c.partition: reuse[c.key].rows
                        if c.key in reuse
                        else repository.count_rows(session, c.partition)
                        for c in closed
                    }
                    known: dict[str, dict[str, int]] = {}
                    for c in closed:
                        known.setdefault(c.table, {})[c.partition] = rows[c.partition]
                    facts = _facts(session, now, known)
            except OperationalError as exc:
                if server_code(exc) != LOCK_NOT_AVAILABLE:
                    raise
                raise dumps.DumpFailed(
                    f"a table is locked by another transaction (a migration?) for longer "
                    f"than {lock_wait.total_seconds():g} s; try again when it has finished"
                ) from exc
            raw_months: list[MonthFile] = []
            written: list[Path] = []
            try:
                for c in closed:
                    if c.key in reuse:
                        raw_months.append(reuse[c.key])
                        continue
                    month_name = months.file_name(name, c.partition)
                    final = directory / month_name
                    part = directory / f"{month_name}.partial"
                    written += [part, final]
                    dumps.pg_dump(
                        tool, database, part, snapshot, lock_wait_ms=wait_ms, data_of=c.partition
                    )
                    raw_months.append(
                        MonthFile(
                            table=c.table,
                            month=f"{c.month:%Y-%m}",
                            file_name=month_name,
                            size_bytes=part.stat().st_size,
                            sha256=dumps.sha256_of(part),
                            rows=rows[c.partition],
                            mark=c.mark,
                        )
                    )
                    os.replace(part, final)
                dumps.pg_dump(
                    tool,
                    database,
                    partial,
                    snapshot,
                    lock_wait_ms=wait_ms,
                    exclude_data=[c.partition for c in closed],
                )
            except BaseException:
                for path in written:
                    path.unlink(missing_ok=True)
                raise
    return facts, database.schema, raw_months


def _server_major(version: tuple[int | str, ...] | None) -> int:
    if not version:
        raise dumps.DumpFailed("the PostgreSQL server did not tell its version")
    return int(version[0])


def create(url: str, policy: Policy, trigger: Trigger, by: str, now: datetime) -> Manifest:
    """Make a backup of the database at ``url``, write its manifest, record it."""
    engine = make_engine(url)
    try:
        kind = _kind(engine)
        with _backing_up(policy.directory):
            return _create(engine, url, policy, kind, trigger, by, now)
    finally:
        engine.dispose()


def _create(
    engine: Engine, url: str, policy: Policy, kind: Kind, trigger: Trigger, by: str, now: datetime
) -> Manifest:
    directory = policy.directory
    name = _file_name(directory, kind, trigger, now)
    final = directory / name
    partial = directory / f"{name}.partial"
    schema: str | None = None
    raw_months: list[MonthFile] = []
    try:
        if kind == "sqlite":
            facts = _dump_sqlite(url, partial, now)
        else:
            facts, schema, raw_months = _dump_postgres(
                engine, directory, name, partial, now, policy.lock_wait
            )
        size, sha256 = partial.stat().st_size, dumps.sha256_of(partial)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    manifest = Manifest(
        file_name=name,
        kind=kind,
        schema_name=schema,
        size_bytes=size,
        sha256=sha256,
        created_at=now.astimezone(UTC),
        trigger=trigger,
        created_by=by,
        schema_revision=facts.revision,
        audit_head_id=facts.audit_head_id,
        audit_checkpoint=facts.audit_checkpoint,
        figures=facts.figures,
        figures_sha256=fingerprint.digest(facts.figures),
        raw_archives=list(facts.raw_archives),
        raw_months=raw_months,
    )
    write_manifest(directory, manifest)
    with transaction(make_sessionmaker(engine)) as session:
        if BackupEntry.__tablename__ in repository.existing_tables(session):
            _record(session, directory, manifest)
    log.info("backup %s made (%s, %d bytes)", name, trigger, size)
    return manifest


# -- manifests and the ledger ---------------------------------------------------------


def write_manifest(directory: Path, manifest: Manifest) -> None:
    path = directory / f"{manifest.file_name}{MANIFEST_SUFFIX}"
    partial = path.with_name(path.name + ".partial")
    write_private(partial, manifest.model_dump_json(indent=2).encode())
    os.replace(partial, path)


def read_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise NotFound(f"cannot read the manifest {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise BackupCorrupt(f"the manifest {path} is not a backup manifest: {exc}") from exc


def manifests(directory: Path) -> list[Manifest]:
    """Every manifest in the directory, oldest first (unreadable ones are skipped)."""
    found = []
    if directory.is_dir():
        for path in sorted(directory.glob(f"*{MANIFEST_SUFFIX}")):
            try:
                found.append(read_manifest(path))
            except CoalwatchError as exc:
                log.warning("skipping %s: %s", path, exc.message)
    return sorted(found, key=lambda m: (m.created_at, m.file_name))


def locate(file: Path) -> tuple[Manifest, Path]:
    """A backup by its file or its manifest: (manifest, the backup file)."""
    if file.name.endswith(MANIFEST_SUFFIX):
        manifest_path = file
        backup = file.with_name(file.name[: -len(MANIFEST_SUFFIX)])
    else:
        manifest_path = file.with_name(file.name + MANIFEST_SUFFIX)
        backup = file
    if not manifest_path.exists():
        raise NotFound(
            f"no manifest {manifest_path.name} beside the backup: "
            "its checksum cannot be checked, so it is not restored"
        )
    manifest = read_manifest(manifest_path)
    if manifest.pruned_at is not None and not backup.exists():
        raise NotFound(f"{manifest.file_name} was pruned on {manifest.pruned_at:%Y-%m-%d}")
    return manifest, backup


def check(manifest: Manifest, backup: Path) -> None:
    """The file is the one the manifest describes (size and SHA-256), or BackupCorrupt."""
    if not backup.exists():
        raise NotFound(f"the backup file {backup} does not exist")
    size = backup.stat().st_size
    if size != manifest.size_bytes:
        raise BackupCorrupt(
            f"{backup.name} is damaged: {size} bytes, the manifest says {manifest.size_bytes}"
        )
    if dumps.sha256_of(backup) != manifest.sha256:
        raise BackupCorrupt(
            f"{backup.name} is damaged: its SHA-256 differs from the manifest's; not used"
        )
    for month in manifest.raw_months:
        path = backup.parent / month.file_name
        what = f"the month file {month.file_name} ({month.table} {month.month}) of {backup.name}"
        if not path.is_file():
            raise BackupCorrupt(f"{what} is missing from {backup.parent}: the backup is not whole")
        if dumps.sha256_of(path) != month.sha256:
            raise BackupCorrupt(f"{what} is damaged: its SHA-256 differs from the manifest's")


def _record(session: Session, directory: Path, manifest: Manifest) -> BackupEntry:
    entry = BackupEntry(
        file_name=manifest.file_name,
        directory=str(directory),
        kind=manifest.kind,
        size_bytes=manifest.size_bytes,
        sha256=manifest.sha256,
        created_at=manifest.created_at,
        trigger=manifest.trigger,
        created_by=manifest.created_by,
        schema_revision=manifest.schema_revision,
        audit_head_id=manifest.audit_head_id,
        audit_head_hash=manifest.figures.audit_head or None,
        figures=manifest.figures.model_dump_json(),
        figures_sha256=manifest.figures_sha256,
        pruned_at=manifest.pruned_at,
        pruned_by=manifest.pruned_by,
    )
    repository.add(session, entry)
    return entry


def sync_ledger(session: Session, directory: Path) -> int:
    """Insert the ledger rows the database lacks from the manifests (after a restore),
    and mark as pruned what a manifest says was pruned. Returns the rows inserted."""
    inserted = 0
    for manifest in manifests(directory):
        entry = repository.by_file(session, manifest.file_name)
        if entry is None:
            _record(session, directory, manifest)
            inserted += 1
        elif entry.pruned_at is None and manifest.pruned_at is not None:
            entry.pruned_at, entry.pruned_by = manifest.pruned_at, manifest.pruned_by
    return inserted


def _require_whole_tree(principal: Principal) -> None:
    principal.require("ledger:view")
    if principal.scope_path is not None:
        raise Forbidden(N_("备份记录仅供中心管理员查看"))


def _out(manifest: Manifest, status: str) -> BackupOut:
    month_bytes = sum(m.size_bytes for m in manifest.raw_months)
    return BackupOut.model_validate(
        {
            **manifest.model_dump(
                include={
                    "file_name",
                    "kind",
                    "sha256",
                    "created_at",
                    "trigger",
                    "created_by",
                    "schema_revision",
                    "figures_sha256",
                    "pruned_at",
                    "pruned_by",
                }
            ),
            "size_bytes": manifest.size_bytes + month_bytes,
            "month_files_bytes": month_bytes,
            "mines": len(manifest.figures.mines),
            "rows": sum(manifest.figures.rows.values()),
            "audit_entries": manifest.figures.audit_entries,
            "status": status,
        }
    )


def _entry_manifest(entry: BackupEntry, on_disk: Manifest | None) -> Manifest:
    """The ledger row as a manifest, with the month files of the manifest beside the
    backup (the ledger does not hold them): in the directory, or where it was made."""
    if on_disk is None:
        path = Path(entry.directory) / f"{entry.file_name}{MANIFEST_SUFFIX}"
        with contextlib.suppress(CoalwatchError):
            on_disk = read_manifest(path) if path.is_file() else None
    return Manifest(
        file_name=entry.file_name,
        kind="postgresql" if entry.kind == "postgresql" else "sqlite",
        size_bytes=entry.size_bytes,
        sha256=entry.sha256,
        created_at=entry.created_at,
        trigger=entry.trigger,
        created_by=entry.created_by,
        schema_revision=entry.schema_revision,
        audit_head_id=entry.audit_head_id,
        figures=Figures.model_validate_json(entry.figures),
        figures_sha256=entry.figures_sha256,
        pruned_at=entry.pruned_at,
        pruned_by=entry.pruned_by,
        raw_months=[] if on_disk is None else on_disk.raw_months,
    )


def list_backups(session: Session, principal: Principal, directory: Path) -> list[BackupOut]:
    """备份记录, newest first: the ledger's rows with whether their file is still there,
    and the backups in the directory that the ledger does not hold."""
    _require_whole_tree(principal)
    items: list[BackupOut] = []
    recorded = set()
    on_disk = {m.file_name: m for m in manifests(directory)}
    for entry in repository.ledger(session):
        recorded.add(entry.file_name)
        present = (directory / entry.file_name).exists() or (
            Path(entry.directory) / entry.file_name
        ).exists()
        status = "pruned" if entry.pruned_at else "ok" if present else "missing"
        items.append(_out(_entry_manifest(entry, on_disk.get(entry.file_name)), status))
    for manifest in on_disk.values():
        if manifest.file_name not in recorded:
            status = "pruned" if manifest.pruned_at else "unrecorded"
            items.append(_out(manifest, status))
    return sorted(items, key=lambda b: (b.created_at, b.file_name), reverse=True)


def list_directory(directory: Path) -> list[BackupOut]:
    """The backups of the directory alone (when the database cannot be read)."""
    items = [_out(m, "pruned" if m.pruned_at else "unrecorded") for m in manifests(directory)]
    return sorted(items, key=lambda b: (b.created_at, b.file_name), reverse=True)


# -- restoring ------------------------------------------------------------------------


def _sqlite_holds_data(url: str) -> bool:
    path = dumps.sqlite_path(url)
    if not path.exists() or path.stat().st_size == 0:
        return False
    with _read_only_sqlite(path) as session:
        return repository.holds_data(session)


def _holds_data(engine: Engine, url: str) -> bool:
    if engine.dialect.name == "sqlite":
        return _sqlite_holds_data(url)
    with Session(engine) as session:
        return repository.holds_data(session)


def _restore_postgres(engine: Engine, manifest: Manifest, backup: Path, now: datetime) -> None:
    database = dumps.pg_database(engine.url)
    with engine.connect() as connection:
        major = _server_major(connection.dialect.server_version_info)
    tool = dumps.pg_tool("pg_restore", major)
    source = manifest.schema_name or "public"
    try:
        dumps.pg_restore_schema(
            engine,
            tool,
            database,
            backup,
            source,
            aside=f"{database.schema}_before_restore_{now.astimezone(UTC):%Y%m%d%H%M%S}",
            data=[backup.parent / m.file_name for m in manifest.raw_months],
            finish=repository.renew_change_epoch,
        )
    except dumps.SchemaTaken as exc:
        raise Conflict(exc.message) from exc


def _describe(engine: Engine, url: str) -> str:
    if engine.dialect.name == "sqlite":
        return str(dumps.sqlite_path(url))
    return dumps.pg_database(engine.url).describe()


def restore(
    url: str, file: Path, policy: Policy, by: str, now: datetime, *, force: bool = False
) -> RestoreResult:
    """Restore a backup into the database at ``url`` (the center stopped), then compare
    the restored figures with the backup's.

    The checksum is checked first: a damaged file is refused. A target that holds data
    is refused unless ``force``, and then backed up first (trigger pre_restore).
    """
    with _reading(file.parent):
        manifest, backup = locate(file)
        check(manifest, backup)
        pre_restore, target = _replace(url, manifest, backup, policy, by, now, force=force)
    # a fresh engine: the schema it works in was just created or renamed
    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            restored = fingerprint.compute(session, manifest.figures.at)
            differences = fingerprint.differences(manifest.figures, restored)
            if BackupEntry.__tablename__ in repository.existing_tables(session):
                sync_ledger(session, policy.directory)
                audit.record(
                    session,
                    actor=by,
                    action="backup.restore",
                    entity="backup",
                    key=manifest.file_name,
                    detail={
                        "sha256": manifest.sha256,
                        "verified": not differences,
                        "pre_restore": None if pre_restore is None else pre_restore.file_name,
                    },
                    at=now,
                )
        return RestoreResult(
            manifest=manifest,
            figures=restored,
            differences=differences,
            pre_restore=pre_restore,
            target=target,
        )
    finally:
        engine.dispose()


def _replace(
    url: str,
    manifest: Manifest,
    backup: Path,
    policy: Policy,
    by: str,
    now: datetime,
    *,
    force: bool,
) -> tuple[Manifest | None, str]:
    """Load the backup into the database at ``url``: (the pre_restore backup made of
    what it held, if any; the target described)."""
    engine = make_engine(url)
    try:
        kind = _kind(engine)
        if kind != manifest.kind:
            raise Invalid(f"{manifest.file_name} is a {manifest.kind} backup; the target is {kind}")
        target = _describe(engine, url)
        pre_restore = None
        if _holds_data(engine, url):
            if not force:
                raise TargetHoldsData(
                    f"the target database {target} already holds data: give --force to "
                    "replace it (a pre_restore backup of it is made first)"
                )
            pre_restore = create(url, policy, "pre_restore", by, now)
        engine.dispose()
        if kind == "sqlite":
            dumps.sqlite_restore(backup, dumps.sqlite_path(url))
        else:
            _restore_postgres(engine, manifest, backup, now)
    finally:
        engine.dispose()
        facts.invalidate()  # the database was replaced beside SQLAlchemy
    return pre_restore, target


def verify(file: Path) -> tuple[Manifest, list[str]]:
    """Check a backup without restoring it: its checksum, and that its content can be
    read (SQLite: its figures are recomputed from the file and compared; PostgreSQL:
    pg_restore lists its contents). Returns what was checked."""
    with _reading(file.parent):
        return _verify(file)


def _verify(file: Path) -> tuple[Manifest, list[str]]:
    manifest, backup = locate(file)
    check(manifest, backup)
    checked = [f"SHA-256 {manifest.sha256} matches"]
    if manifest.kind == "sqlite":
        with _read_only_sqlite(backup) as session:
            found = fingerprint.compute(session, manifest.figures.at)
        differences = fingerprint.differences(manifest.figures, found)
        if differences:
            first = differences[0]
            raise BackupCorrupt(
                f"{manifest.file_name}: {len(differences)} figures differ from the manifest, "
                f"e.g. {first.what}: {first.found} instead of {first.expected}"
            )
        checked.append(f"figures of {len(found.mines)} mines recomputed from the file: the same")
    else:
        tool = dumps.any_pg_tool("pg_restore")
        contents = dumps.pg_list(tool, backup)
        tables = sum(1 for line in contents.splitlines() if " TABLE DATA " in line)
        checked.append(f"{tool.name} {dumps.tool_major(tool)} reads it: {tables} tables of data")
        for month in manifest.raw_months:
            dumps.pg_list(tool, backup.parent / month.file_name)
        if manifest.raw_months:
            checked.append(
                f"{len(manifest.raw_months)} month files: SHA-256 matches, {tool.name} reads them"
            )
    return manifest, checked


# -- pruning --------------------------------------------------------------------------


def prune(session: Session, policy: Policy, by: str, now: datetime) -> PruneResult:
    """Delete the backups older than the retention, never the newest one; each is
    marked pruned in the ledger and in its manifest (which stays). Then what killed
    backups left in the directory is removed.

    Waits for the backups being made in the directory first; call it before the session
    is used, so that no transaction is held open while it waits."""
    with _pruning(policy.directory):
        result = _prune(session, policy, by, now)
        _remove_leftovers(policy.directory)
    return result


def _prune(session: Session, policy: Policy, by: str, now: datetime) -> PruneResult:
    sync_ledger(session, policy.directory)
    live = [e for e in repository.ledger(session) if e.pruned_at is None]
    if not live:
        return PruneResult(pruned=[], kept=[])
    newest = max(live, key=lambda e: (e.created_at, e.id))
    cutoff = now - policy.retention
    pruned, kept = [], []
    month_files: set[tuple[Path, str]] = set()
    for entry in sorted(live, key=lambda e: e.created_at):
        if entry is newest or entry.created_at >= cutoff:
            kept.append(entry.file_name)
            continue
        for directory in dict.fromkeys((policy.directory, Path(entry.directory))):
            (directory / entry.file_name).unlink(missing_ok=True)
            manifest_path = directory / f"{entry.file_name}{MANIFEST_SUFFIX}"
            if manifest_path.exists():
                manifest = read_manifest(manifest_path)
                manifest.pruned_at, manifest.pruned_by = now.astimezone(UTC), by
                write_manifest(directory, manifest)
                month_files.update((directory, m.file_name) for m in manifest.raw_months)
        entry.pruned_at, entry.pruned_by = now, by
        pruned.append(entry.file_name)
    _prune_month_files(month_files)
    if pruned:
        audit.record(
            session,
            actor=by,
            action="backup.prune",
            entity="backup",
            key=str(len(pruned)),
            detail={"pruned": pruned, "retention_days": policy.retention.days},
            at=now,
        )
    return PruneResult(pruned=pruned, kept=kept)


def _prune_month_files(candidates: set[tuple[Path, str]]) -> None:
    """Delete the month files of pruned backups that no kept backup names."""
    needed = {
        directory: months.named(m for m in manifests(directory) if m.pruned_at is None)
        for directory in {d for d, _ in candidates}
    }
    for directory, name in candidates:
        if name not in needed[directory]:
            (directory / name).unlink(missing_ok=True)


# -- the schedule ---------------------------------------------------------------------


def _lineage_head(session: Session) -> int:
    """The audit entry the newest backup of this database's own history ends at (a
    restore brings rows of backups made from a history that was replaced)."""
    for entry in repository.ledger(session):
        if entry.audit_head_id is None or entry.audit_head_hash is None:
            continue
        if repository.audit_hash(session, entry.audit_head_id) == entry.audit_head_hash:
            return entry.audit_head_id
    return 0


def due(session: Session, policy: Policy, now: datetime) -> Trigger | None:
    """Which backup the job should make now, if any: the schedule's, or one after a
    password or parameter change that has been quiet for :data:`AFTER_CHANGE_QUIET`."""
    newest = repository.newest(session)
    if newest is None:
        return "schedule" if policy.interval is not None else None
    if policy.interval is not None and now - newest.created_at >= policy.interval:
        return "schedule"
    after_id, after_at = _lineage_head(session), newest.created_at

    def newest_change(actions: tuple[str, ...], mark: str | None = None) -> datetime | None:
        return repository.newest_change(
            session, actions, after_id=after_id, after_at=after_at, detail_contains=mark
        )

    password = max(
        (
            t
            for t in (
                newest_change(PASSWORD_ACTIONS),
                newest_change(PASSWORD_RESET, PASSWORD_RESET_MARK),
            )
            if t is not None
        ),
        default=None,
    )
    parameter = newest_change(PARAMETER_ACTIONS)
    changed = max((t for t in (password, parameter) if t is not None), default=None)
    if changed is None or now - changed < AFTER_CHANGE_QUIET:
        return None
    return "password_change" if password is not None else "parameter_change"


def run_due(
    url: str, sessions: sessionmaker[Session], policy: Policy, now: datetime
) -> Manifest | None:
    """The job's step: make the backup that is due (and prune after a scheduled one)."""
    with transaction(sessions) as session:
        trigger = due(session, policy, now)
    if trigger is None:
        return None
    manifest = create(url, policy, trigger, SYSTEM, now)
    if trigger == "schedule":
        with transaction(sessions) as session:
            prune(session, policy, SYSTEM, now)
    return manifest


class BackupJob:
    """The scheduler's backup step; a failure is logged once and retried an hour later,
    never raised into the other jobs."""

    def __init__(self, url: str, policy: Policy) -> None:
        self.url, self.policy = url, policy
        self._retry_at: datetime | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupJob:
        return cls(settings.resolved_database_url, Policy.from_settings(settings))

    def __call__(self, sessions: sessionmaker[Session], now: datetime) -> None:
        if self._retry_at is not None and now < self._retry_at:
            return
        try:
            run_due(self.url, sessions, self.policy, now)
        except (CoalwatchError, OSError) as exc:
            if self._retry_at is None:
                reason = exc.message if isinstance(exc, CoalwatchError) else str(exc)
                log.error("backup failed (retrying every hour): %s", reason)
            self._retry_at = now + RETRY_AFTER
            return
        if self._retry_at is not None:
            log.info("backups work again")
            self._retry_at = None
