"""The exchange's round in the jobs process: write the files due and push the queued ones
to the province's server; fetch and read back another vendor's files."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.exchange import repository
from coalwatch.exchange.delivery import FTP_ERRORS, FtpTarget, Pushed, fetch_new, push_pending
from coalwatch.exchange.layout import Layout, load_layout
from coalwatch.exchange.reader import Imported, Reader
from coalwatch.exchange.writer import Schedule, Writer, Written
from coalwatch.ingest.service import IngestLimits
from coalwatch.storage.session import transaction

if TYPE_CHECKING:
    from coalwatch.config import Settings

log = logging.getLogger("coalwatch.exchange")


def layout_of(settings: Settings) -> Layout:
    return load_layout(settings.exchange_layout_file)


def writer_of(settings: Settings, directory: Path) -> Writer:
    return Writer(
        layout_of(settings),
        directory,
        settings.exchange_encoding,
        Schedule(
            settings.exchange_realtime_s,
            settings.exchange_cumulative_s,
            settings.exchange_statistics_s,
        ),
    )


def reader_of(settings: Settings) -> Reader:
    return Reader(
        layout_of(settings),
        settings.exchange_encoding,
        IngestLimits.of(settings),
    )


def target_of(settings: Settings) -> FtpTarget | None:
    if not settings.exchange_ftp_url:
        return None
    return FtpTarget.from_url(settings.exchange_ftp_url, settings.exchange_ftp_timeout_s)


def source_of(settings: Settings) -> FtpTarget | None:
    if not settings.exchange_import_ftp_url:
        return None
    return FtpTarget.from_url(settings.exchange_import_ftp_url, settings.exchange_ftp_timeout_s)


def write_due(sessions: sessionmaker[Session], writer: Writer, now: datetime) -> list[Written]:
    with transaction(sessions) as session:
        return writer.write_due(session, now)


def fetch_and_import(
    sessions: sessionmaker[Session],
    reader: Reader,
    directory: Path,
    source: FtpTarget | None,
    now: datetime,
) -> list[Imported]:
    """The server's new files into ``directory`` (when there is a server), then every
    file of the directory not read yet."""
    if source is not None:
        with transaction(sessions) as session:
            known = repository.imported_names(session)
        try:
            fetch_new(source, directory, known)
        except FTP_ERRORS as exc:  # the files already here are read all the same
            log.warning("cannot fetch collection files from %s: %s", source, exc)
    return reader.import_directory(sessions, directory, now)


class ExchangeJob:
    """Each round: the files due, then the push (files wait in the ledger when the
    server is away); then the files of another vendor to read back."""

    def __init__(self, settings: Settings, pause_s: float = 1.0) -> None:
        self.directory = settings.exchange_dir
        self.writer = None if self.directory is None else writer_of(settings, self.directory)
        self.target = target_of(settings)
        self.retries = settings.exchange_ftp_retries
        self.pause_s = pause_s
        self.import_dir = settings.exchange_import_dir
        self.reader = None if self.import_dir is None else reader_of(settings)
        self.source = source_of(settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> ExchangeJob | None:
        if settings.exchange_dir is None and settings.exchange_import_dir is None:
            return None
        return cls(settings)

    def __call__(self, sessions: sessionmaker[Session], now: datetime) -> Pushed | None:
        if self.reader is not None and self.import_dir is not None:
            fetch_and_import(sessions, self.reader, self.import_dir, self.source, now)
        if self.writer is None or self.directory is None:
            return None
        write_due(sessions, self.writer, now)
        if self.target is None:
            return None
        return push_pending(
            sessions, self.target, self.directory, lambda: now, self.retries, self.pause_s
        )
