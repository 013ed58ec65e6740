"""Background work of the center: the timed alarm rules, notification delivery and the
nightly daily reports.

Runs in the center's process by default (a daemon thread); every round is its
own transaction, and a failing round is logged and retried, never fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.acceptance import service as acceptance
from coalwatch.alarms import channels, engine
from coalwatch.events.broker import Broker, attach
from coalwatch.faults import service as faults
from coalwatch.jobs import outages
from coalwatch.jobs.leader import node_name
from coalwatch.notices import service as notices
from coalwatch.people import service as people
from coalwatch.permits import service as permits
from coalwatch.reports import service as reports
from coalwatch.routines import service as routines
from coalwatch.storage.session import transaction

if TYPE_CHECKING:
    from coalwatch.backups.service import BackupJob
    from coalwatch.exchange.service import ExchangeJob
    from coalwatch.federation.service import Forwarder
    from coalwatch.integrity.service import IntegrityJob
    from coalwatch.jobs.leader import Leader
    from coalwatch.partitions.service import PartitionJob
    from coalwatch.video.service import VideoJob

log = logging.getLogger("coalwatch.jobs")


def run_once(
    sessions: sessionmaker[Session],
    broker: Broker | None,
    now: datetime,
    forwarder: Forwarder | None = None,
    video: VideoJob | None = None,
    backups: BackupJob | None = None,
    integrity: IntegrityJob | None = None,
    exchange: ExchangeJob | None = None,
    partitions: PartitionJob | None = None,
) -> None:
    """One round: timers first (they may queue messages), then delivery, then yesterday's
    daily reports of the mines past 00:10 local time that have none yet, then forwarding
    to the upstream center (when there is one)."""
    with transaction(sessions) as session:
        if broker is not None:
            attach(session, broker)
        engine.tick(session, now)
        faults.assess_due(session, now)  # 核减: pending once a report is late, growing
        people.tick(session, now)  # staffing, sign-on, certificates, handovers
        routines.tick(session, now)  # routine checks past their due day
        acceptance.tick(session, now)  # production not accepted, annual inspection overdue
        permits.tick(session, now)  # stops begun without their report; unacknowledged resumption
        notices.tick(session, now)  # notices and instructions not acknowledged or answered
    channels.deliver_due(sessions, now)
    with transaction(sessions) as session:
        reports.generate_due(session, now)
    if forwarder is not None:
        forwarder.forward_due(sessions, now)
    if video is not None:  # the cameras due: snapshots, health, retention (视频监视)
        video(sessions, now, broker)
    if backups is not None:  # a backup when due: the schedule, or after a change (备份)
        backups(sessions, now)
    if integrity is not None:  # hourly: sign the audit chain, re-prove what came (数据可证)
        integrity(sessions, now)
    if exchange is not None:  # collection files due, and their push (数据采集文件)
        exchange(sessions, now)
    if partitions is not None:  # raw partitions ahead, and the retention (原始数据归档)
        partitions(sessions, now)


def run_round(
    sessions: sessionmaker[Session],
    broker: Broker | None,
    now: datetime,
    interval_s: float,
    by: str,
    **jobs: Any,
) -> None:
    """A round of the scheduler: the beat first, in a transaction of its own (an absence
    it ends is then known to the timed rules), then ``run_once`` with ``jobs``."""
    with transaction(sessions) as session:
        if broker is not None:
            attach(session, broker)
        outages.beat(session, now, interval_s, by)
    run_once(sessions, broker, now, **jobs)


class Scheduler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        broker: Broker,
        clock: Callable[[], datetime],
        interval_s: float = 10.0,
        forwarder: Forwarder | None = None,
        leader: Leader | None = None,
        video: VideoJob | None = None,
        backups: BackupJob | None = None,
        integrity: IntegrityJob | None = None,
        exchange: ExchangeJob | None = None,
        partitions: PartitionJob | None = None,
    ) -> None:
        """With a ``leader`` (two centers on one database), rounds run only while this
        process holds the jobs lease (coalwatch.jobs.leader); without one, always."""
        self._sessions, self._broker, self._clock = sessions, broker, clock
        self._forwarder = forwarder
        self._leader = leader
        self._video = video
        self._backups = backups
        self._integrity = integrity
        self._exchange = exchange
        self._partitions = partitions
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._name = node_name()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="coalwatch-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._leader is not None and not self._leader.is_leader():
                continue  # the other center runs the jobs
            try:
                run_round(
                    self._sessions,
                    self._broker,
                    self._clock(),
                    self._interval,
                    self._leader.lease.holder if self._leader is not None else self._name,
                    forwarder=self._forwarder,
                    video=self._video,
                    backups=self._backups,
                    integrity=self._integrity,
                    exchange=self._exchange,
                    partitions=self._partitions,
                )
                if self._leader is not None:
                    self._leader.lease.note_round()
                if self._failing:
                    log.info("background jobs recovered")
                    self._failing = False
            except Exception:
                if not self._failing:  # once on failure, once on recovery
                    log.exception("background jobs failed; retrying every %.0f s", self._interval)
                    self._failing = True
