"""Signed checkpoints of the audit chain 审计日志锚定.

The hash chain shows an entry edited in place, but not a chain recomputed after an
edit, nor entries removed from its end. So, at least every hour, the center signs
the chain's length and head hash with its own Ed25519 key (a file the database does
not hold), keeps the checkpoint in the database and appends it to a file beside the
database; backups carry the table. Verification checks the chain against every
checkpoint it can find: a checkpoint whose head is gone names removed entries, one
whose head hash differs names a rewritten chain.

The file is the database's own: its name carries the database's identity (the SQLite
file's path; the PostgreSQL server, database and schema), taken from where the center
connects, not from anything stored in the database. Centers on two databases that
share a var directory (and so a key) each keep and check their own file, and one who
can write to the database only cannot make the center read another file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coalwatch.audit.models import AuditCheckpoint, AuditEntry
from coalwatch.audit.service import Broken, verify
from coalwatch.federation import queue
from coalwatch.wire.signing import parse_public_key, public_key_b64, sign
from coalwatch.wire.signing import verify as verify_signature

log = logging.getLogger("coalwatch.audit")

#: beside the database: the checkpoints as JSON lines, appended, in a file named after
#: the database (:func:`log_file`)
LOG_FILE_PREFIX = "audit-checkpoints-"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    at: datetime
    entry_count: int
    head_id: int
    head_hash: str
    public_key: str
    signature: str

    def payload(self) -> bytes:
        return _payload(self.entry_count, self.head_id, self.head_hash, self.at)

    def as_json(self) -> str:
        return json.dumps(
            {
                "at": self.at.astimezone(UTC).isoformat(),
                "entry_count": self.entry_count,
                "head_id": self.head_id,
                "head_hash": self.head_hash,
                "public_key": self.public_key,
                "signature": self.signature,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, line: str) -> Checkpoint:
        data = json.loads(line)
        return cls(
            at=datetime.fromisoformat(data["at"]),
            entry_count=int(data["entry_count"]),
            head_id=int(data["head_id"]),
            head_hash=str(data["head_hash"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
        )


def _payload(entry_count: int, head_id: int, head_hash: str, at: datetime) -> bytes:
    return json.dumps(
        [
            "coalwatch-audit-checkpoint",
            entry_count,
            head_id,
            head_hash,
            at.astimezone(UTC).isoformat(),
        ],
        separators=(",", ":"),
    ).encode()


def make_checkpoint(
    session: Session, key: Ed25519PrivateKey, now: datetime, log_dir: Path | None
) -> Checkpoint | None:
    """Sign the chain as it stands (None when it is empty or unchanged since the newest
    checkpoint)."""
    head = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    if head is None:
        return None
    newest = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()
    if newest is not None and newest.head_id == head.id:
        return None
    # the entries up to the head read above: others may have committed since
    count = int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= head.id))
        or 0
    )
    at = now.astimezone(UTC)
    checkpoint = Checkpoint(
        at=at,
        entry_count=count,
        head_id=head.id,
        head_hash=head.hash,
        public_key=public_key_b64(key),
        signature=sign(key, _payload(count, head.id, head.hash, at)),
    )
    session.add(AuditCheckpoint(**asdict(checkpoint)))
    session.flush()
    # sent up with the other messages: the upstream keeps it (a cut log is seen there too)
    queue.enqueue(session, queue.AUDIT_CHECKPOINT, json.loads(checkpoint.as_json()), now)
    if log_dir is not None:
        _append(_own_file(log_dir, session), checkpoint.as_json())
    return checkpoint


def database_identity(session: Session) -> str:
    """Where the session's database is, in one line: the SQLite file's absolute path; the
    PostgreSQL server's host and port, the database and the schema the center works in
    (as the server names them, however the URL spells the search path)."""
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            database = str(Path(database).resolve())
        return f"sqlite:{database}"
    row = session.execute(select(func.current_database(), func.current_schema())).one()
    host = url.host or str(url.query.get("host", ""))
    return f"{url.get_backend_name()}://{host.lower()}:{url.port or 5432}/{row[0]}/{row[1]}"


def log_file(log_dir: Path, session: Session) -> Path:
    """The checkpoint file of the session's database in ``log_dir``."""
    digest = hashlib.sha256(database_identity(session).encode()).hexdigest()[:16]
    return log_dir / f"{LOG_FILE_PREFIX}{digest}.jsonl"


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def stored(session: Session) -> list[Checkpoint]:
    return [
        Checkpoint(c.at, c.entry_count, c.head_id, c.head_hash, c.public_key, c.signature)
        for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
    ]


def from_file(log_dir: Path, session: Session) -> list[Checkpoint]:
    """The checkpoints of the session's database's file in ``log_dir`` (lines that do
    not parse are skipped: the signature check decides what counts)."""
    path = _own_file(log_dir, session)
    if not path.exists():
        return []
    return from_lines(path.read_text(encoding="utf-8"))


#: the file of every database sharing a var directory, before each had its own
LEGACY_LOG_FILE = "audit-checkpoints.jsonl"


def _own_file(log_dir: Path, session: Session) -> Path:
    """``log_file``, taking over the single file of earlier versions when every checkpoint
    in it is of this database (its head entry here, with the hash it signed); a file that
    is not (another database's, or this one's cut since) is left for an operator to check
    with ``coalwatch audit verify --checkpoints``, and said so in the log."""
    own = log_file(log_dir, session)
    legacy = log_dir / LEGACY_LOG_FILE
    if own.exists() or not legacy.exists():
        return own
    found = from_lines(legacy.read_text(encoding="utf-8"))
    heads = {c.head_id: c.head_hash for c in found}
    rows = session.execute(select(AuditEntry.id, AuditEntry.hash).where(AuditEntry.id.in_(heads)))
    held = {entry_id: digest for entry_id, digest in rows}
    if found and held == heads:
        os.replace(legacy, own)
        log.info("the audit checkpoint file %s is now %s", legacy, own)
    elif legacy not in _warned:
        _warned.add(legacy)
        log.warning(
            "%s (from an earlier version) is not of this database, or its log was cut: check "
            "it with `coalwatch audit verify --checkpoints %s`",
            legacy,
            legacy,
        )
    return own


_warned: set[Path] = set()


def from_lines(text: str) -> list[Checkpoint]:
    """Checkpoints as JSON lines (a line that does not parse is skipped)."""
    found: list[Checkpoint] = []
    for line in text.splitlines():
        try:
            found.append(Checkpoint.from_json(line))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def verify_anchored(
    session: Session, public_key: str | None, extra: list[Checkpoint] | None = None
) -> Broken | None:
    """The hash chain, then the chain against every checkpoint signed with
    ``public_key`` (the center's, from its key file; None: none is known yet)."""
    broken = verify(session)
    if broken is not None:
        return broken
    if public_key is None:
        return None
    key = parse_public_key(public_key)
    found = {(c.head_id, c.head_hash, c.entry_count): c for c in stored(session) + (extra or [])}
    checkpoints = sorted(found.values(), key=lambda c: c.head_id)
    last = session.scalar(select(func.max(AuditEntry.id)))
    good_head = 0
    for checkpoint in checkpoints:
        if checkpoint.public_key != public_key or not verify_signature(
            key, checkpoint.payload(), checkpoint.signature
        ):
            return Broken(
                checkpoint.head_id,
                f"the checkpoint of {checkpoint.at.isoformat()} is not signed by this "
                "center's key (a forged checkpoint)",
            )
        head = session.get(AuditEntry, checkpoint.head_id)
        if head is None:
            return Broken(
                checkpoint.head_id,
                f"entries were removed: the checkpoint of {checkpoint.at.isoformat()} counted "
                f"{checkpoint.entry_count} entries up to entry {checkpoint.head_id}, the log "
                f"now ends at entry {last or 0}",
            )
        if head.hash != checkpoint.head_hash:
            return Broken(
                good_head + 1,
                f"the chain was rewritten between entry {good_head + 1} and entry "
                f"{checkpoint.head_id}: it no longer ends in the hash signed by the "
                f"checkpoint of {checkpoint.at.isoformat()}",
            )
        count = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= head.id)
        )
        if count != checkpoint.entry_count:
            return Broken(
                good_head + 1,
                f"entries between entry {good_head + 1} and entry {checkpoint.head_id} were "
                f"removed: the checkpoint of {checkpoint.at.isoformat()} counted "
                f"{checkpoint.entry_count} entries, the log holds {count}",
            )
        good_head = checkpoint.head_id
    return None
