"""The content-addressed file store: a file lies at ``ab/cdef…`` under the store's root,
named by its SHA-256, written once (to a temporary name, then renamed) and checked
against its name whenever it is read."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from coalwatch.config import Settings
from coalwatch.errors import Conflict, NotFound

#: under the center's var_dir
FOLDER = "archive"


def root(settings: Settings) -> Path:
    return Path(settings.var_dir) / FOLDER


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def path_of(base: Path, sha256: str) -> Path:
    return base / sha256[:2] / sha256[2:]


def put(base: Path, data: bytes) -> str:
    """Store ``data`` (a file already there with the same content is left as it is)."""
    sha256 = digest(data)
    target = path_of(base, sha256)
    if target.exists():
        return sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return sha256


def get(base: Path, sha256: str) -> bytes:
    """The stored content; a file whose content no longer matches its name is refused."""
    target = path_of(base, sha256)
    if not target.is_file():
        raise NotFound(f"the file {sha256} is missing from the archive store")
    data = target.read_bytes()
    if digest(data) != sha256:
        raise Conflict(
            f"the stored file {sha256} was altered: its content no longer has its hash",
            code="file_altered",
        )
    return data


def remove(base: Path, sha256: str) -> None:
    path_of(base, sha256).unlink(missing_ok=True)
