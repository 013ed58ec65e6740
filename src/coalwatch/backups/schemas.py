"""A backup's manifest (the JSON beside its file) and the ledger's rows in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from coalwatch.schemas import Instant

Trigger = Literal["schedule", "manual", "password_change", "parameter_change", "pre_restore"]
Kind = Literal["sqlite", "postgresql"]
#: ok: the file is there; pruned: deleted by retention; missing: the file is gone;
#: unrecorded: a file with its manifest that this database's ledger does not hold (yet)
Status = Literal["ok", "pruned", "missing", "unrecorded"]
MANIFEST_FORMAT = 1


class PeriodTotals(BaseModel):
    """Gross 毛煤, raw 原煤 and manual tonnes of one period, as exact decimal strings."""

    model_config = ConfigDict(frozen=True)
    gross_t: str
    raw_t: str
    manual_t: str


class MineFigures(BaseModel):
    model_config = ConfigDict(frozen=True)
    #: the whole local day before ``at``
    yesterday: PeriodTotals
    #: 当天/当月/当年产量 at ``at``
    day: PeriodTotals
    month: PeriodTotals
    year: PeriodTotals


class Figures(BaseModel):
    """The figures fingerprint a backup is compared by: a restore is right when the
    restored database gives the same figures at the backup's instant."""

    model_config = ConfigDict(frozen=True)
    at: datetime
    mines: dict[str, MineFigures]
    #: rows per table (but the backup ledger)
    rows: dict[str, int]
    audit_entries: int
    #: the hash of the newest audit log entry (the chain's head), "" when empty
    audit_head: str


class ArchivedMonth(BaseModel):
    """A month of raw records that was archived to a file and dropped before the backup
    was made: the backup does not hold it, the archive file does."""

    table: str
    month: str
    file_name: str
    sha256: str
    rows: int


class MonthFile(BaseModel):
    """The data of one closed month of a raw table, dumped to a file of its own in the
    backup directory (``pg_dump --data-only`` of the month's partition). Later backups
    name the same file while the month's change ``mark`` is unchanged."""

    table: str
    #: YYYY-MM (UTC)
    month: str
    file_name: str
    size_bytes: int
    sha256: str
    rows: int
    mark: str


class Manifest(BaseModel):
    """Written next to each backup file as ``<file>.json``."""

    format: int = MANIFEST_FORMAT
    file_name: str
    kind: Kind
    #: the PostgreSQL schema that was dumped (None for SQLite)
    schema_name: str | None = None
    size_bytes: int
    sha256: str
    created_at: datetime
    trigger: Trigger
    created_by: str
    schema_revision: str | None
    audit_head_id: int | None
    #: the newest signed audit checkpoint in the backup (JSON, as in the checkpoint
    #: file, coalwatch.audit.checkpoints): the backup's audit log can be checked against it
    audit_checkpoint: str | None = None
    figures: Figures
    figures_sha256: str
    pruned_at: datetime | None = None
    pruned_by: str | None = None
    #: the raw months the backup relies on their archive files for (in the archive
    #: directory, coalwatch.partitions): restore them beside the backup
    raw_archives: list[ArchivedMonth] = []
    #: PostgreSQL: the closed raw months whose data is in month files beside the backup
    #: and not in its main file; a restore loads them after it
    raw_months: list[MonthFile] = []


class BackupOut(BaseModel):
    """A row of the backup ledger 备份记录."""

    file_name: str
    kind: Kind
    #: what the backup takes on disk: its main file and the month files it names (a
    #: month file that several backups name counts in each)
    size_bytes: int
    #: of which in month files (PostgreSQL; 0 for SQLite)
    month_files_bytes: int
    #: the SHA-256 of the main file
    sha256: str
    created_at: Instant
    trigger: Trigger
    created_by: str
    schema_revision: str | None
    #: mines, rows and audit entries in the backup, and the SHA-256 of its figures
    mines: int
    rows: int
    audit_entries: int
    figures_sha256: str
    pruned_at: Instant | None
    pruned_by: str | None
    status: Status


class BackupList(BaseModel):
    items: list[BackupOut]


class Difference(BaseModel):
    what: str
    expected: str
    found: str


class RestoreResult(BaseModel):
    manifest: Manifest
    figures: Figures
    differences: list[Difference]
    pre_restore: Manifest | None
    target: str

    @property
    def verified(self) -> bool:
        return not self.differences


class PruneResult(BaseModel):
    pruned: list[str]
    kept: list[str]
