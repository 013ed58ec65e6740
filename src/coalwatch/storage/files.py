"""Files that hold the center's data (the SQLite database, backups): its owner's only.

The database and its backups hold password hashes, tokens' digests and the channels'
and cameras' settings, so they are created 0600 (their directories 0700), whatever
the process's umask, and an existing file is narrowed to 0600 when it is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
#: the files SQLite keeps beside a database in WAL mode
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """``path`` and its missing parents, new ones 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)


def private_file(path: Path) -> None:
    """``path`` exists (empty when new) and only its owner may read or write it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(descriptor)
    os.chmod(path, FILE_MODE)


def private_sqlite(path: Path) -> None:
    """A SQLite database file 0600, and its companions that exist (SQLite creates them
    with the database file's mode)."""
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file that is 0600 from its creation."""
    private_file(path)
    with path.open("wb") as handle:
        handle.write(data)
