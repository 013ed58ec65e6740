"""The exchange's round in the jobs process: write the files due, then push the queued
ones to the province's server (when one is configured)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.exchange.delivery import FtpTarget, Pushed, push_pending
from coalwatch.exchange.layout import Layout, load_layout
from coalwatch.exchange.writer import Schedule, Writer, Written
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


def target_of(settings: Settings) -> FtpTarget | None:
    if not settings.exchange_ftp_url:
        return None
    return FtpTarget.from_url(settings.exchange_ftp_url, settings.exchange_ftp_timeout_s)


def write_due(sessions: sessionmaker[Session], writer: Writer, now: datetime) -> list[Written]:
    with transaction(sessions) as session:
        return writer.write_due(session, now)


class ExchangeJob:
    """Each round: the files due, then the push (files wait in the ledger when the
    server is away). Built only when ``exchange_dir`` is set."""

    def __init__(self, settings: Settings, pause_s: float = 1.0) -> None:
        assert settings.exchange_dir is not None
        self.directory = settings.exchange_dir
        self.writer = writer_of(settings, self.directory)
        self.target = target_of(settings)
        self.retries = settings.exchange_ftp_retries
        self.pause_s = pause_s

    @classmethod
    def from_settings(cls, settings: Settings) -> ExchangeJob | None:
        return None if settings.exchange_dir is None else cls(settings)

    def __call__(self, sessions: sessionmaker[Session], now: datetime) -> Pushed | None:
        write_due(sessions, self.writer, now)
        if self.target is None:
            return None
        return push_pending(
            sessions, self.target, self.directory, lambda: now, self.retries, self.pause_s
        )
