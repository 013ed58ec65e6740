"""Delivery of the collection files to the province's server over FTP or FTPS (ftplib).

A file stays in the delivery directory and queued in the ledger until the server has
confirmed both its transfer (under a temporary name) and its rename to the real name;
an outage only delays it. Each file's outcome is committed on its own, so a round cut
short keeps what it sent.
"""

from __future__ import annotations

import ftplib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.errors import Invalid
from coalwatch.exchange import repository
from coalwatch.exchange.models import ExchangeFile
from coalwatch.exchange.writer import write_atomically
from coalwatch.storage.session import transaction

log = logging.getLogger("coalwatch.exchange")

#: files one round sends at most
BATCH = 500


@dataclass(frozen=True)
class FtpTarget:
    host: str
    port: int
    user: str
    password: str
    directory: str
    tls: bool
    timeout_s: float = 10.0

    @classmethod
    def from_url(cls, url: str, timeout_s: float = 10.0) -> FtpTarget:
        """ftp://USER:PASSWORD@HOST:PORT/DIR or ftps://... (explicit TLS, data protected)."""
        parts = urlsplit(url)
        if parts.scheme not in ("ftp", "ftps") or not parts.hostname:
            raise Invalid(f"{_safe(url)} is not an ftp:// or ftps:// URL with a host")
        try:
            port = parts.port or 21
        except ValueError:
            raise Invalid(f"{_safe(url)} has a bad port") from None
        return cls(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or "anonymous"),
            password=unquote(parts.password or ""),
            directory=unquote(parts.path) or "/",
            tls=parts.scheme == "ftps",
            timeout_s=timeout_s,
        )

    def connect(self) -> ftplib.FTP:
        ftp: ftplib.FTP = ftplib.FTP_TLS() if self.tls else ftplib.FTP()
        ftp.connect(self.host, self.port, timeout=self.timeout_s)
        ftp.login(self.user, self.password)
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()
        ftp.cwd(self.directory)
        return ftp

    def __str__(self) -> str:
        scheme = "ftps" if self.tls else "ftp"
        return f"{scheme}://{self.user}@{self.host}:{self.port}{self.directory}"


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


FTP_ERRORS = (OSError, EOFError, ftplib.Error)


@dataclass
class Pushed:
    sent: int = 0
    failed: int = 0
    error: str | None = None


def push_pending(
    sessions: sessionmaker[Session],
    target: FtpTarget,
    directory: Path,
    now: Callable[[], datetime],
    retries: int = 3,
    pause_s: float = 1.0,
) -> Pushed:
    """Send every queued file, oldest first; on a failure try again ``retries`` times in
    all (``pause_s`` apart, doubling), then leave the rest queued for the next round."""
    result = Pushed()
    for attempt in range(retries):
        if attempt:
            time.sleep(pause_s * 2 ** (attempt - 1))
        try:
            _push(sessions, target, directory, now, result)
            return result
        except FTP_ERRORS as exc:
            result.error = f"{type(exc).__name__}: {exc}".strip()
            result.failed += 1
    log.warning("the collection files wait for %s: %s", target, result.error)
    return result


def _push(
    sessions: sessionmaker[Session],
    target: FtpTarget,
    directory: Path,
    now: Callable[[], datetime],
    result: Pushed,
) -> None:
    with transaction(sessions) as session:
        queue = [(f.id, f.name) for f in repository.pending(session, BATCH)]
    if not queue:
        return
    ftp: ftplib.FTP | None = None
    try:
        try:
            ftp = target.connect()
        except FTP_ERRORS as exc:
            _note_failure(sessions, queue[0][0], f"{type(exc).__name__}: {exc}")
            raise
        for file_id, name in queue:
            try:
                ack = _send(ftp, directory / name, name)
            except FileNotFoundError:
                # removed from the delivery directory by hand: nothing left to send
                _note_failure(sessions, file_id, f"{name} is missing from {directory}")
                continue
            except FTP_ERRORS as exc:
                _note_failure(sessions, file_id, f"{type(exc).__name__}: {exc}")
                raise
            with transaction(sessions) as session:
                row = session.get(ExchangeFile, file_id)
                assert row is not None
                row.sent_at, row.server_ack = now(), ack
                row.attempts += 1
                row.last_error = None
            result.sent += 1
    finally:
        if ftp is not None:
            try:
                ftp.quit()
            except FTP_ERRORS:
                ftp.close()


def _send(ftp: ftplib.FTP, path: Path, name: str) -> str:
    """Upload under a temporary name, then rename: the server's replies to both."""
    part = f"{name}.part"
    with open(path, "rb") as handle:
        stored = ftp.storbinary(f"STOR {part}", handle)
    renamed = ftp.rename(part, name)
    return f"{stored.strip()} | {renamed.strip()}"


def _note_failure(sessions: sessionmaker[Session], file_id: int, error: str) -> None:
    with transaction(sessions) as session:
        row = session.get(ExchangeFile, file_id)
        if row is not None:
            row.attempts += 1
            row.last_error = error[:2000]


def fetch_new(target: FtpTarget, directory: Path, known: set[str]) -> list[str]:
    """Download the server's files that are neither in ``directory`` nor in ``known``
    (read already), each whole under a temporary name then renamed; the server's files
    are left as they are."""
    fetched: list[str] = []
    ftp = target.connect()
    try:
        for name in sorted(ftp.nlst()):
            name = name.rsplit("/", 1)[-1]
            if name.startswith(".") or name.endswith(".part") or name in known:
                continue
            if (directory / name).exists():
                continue
            chunks: list[bytes] = []
            ftp.retrbinary(f"RETR {name}", chunks.append)
            write_atomically(directory, name, b"".join(chunks))
            fetched.append(name)
    finally:
        try:
            ftp.quit()
        except FTP_ERRORS:
            ftp.close()
    return fetched
