"""Live events for the event stream (SSE): alarm transitions and changed figures.

Services add events to their session; they are published when, and only if,
the transaction commits, so a listener never hears of a change that was rolled
back. The broker fans them out to subscribers in this process and, when a relay is
connected (several center processes on one PostgreSQL: ``coalwatch.events.relay``),
hands them to it for the other processes, whose brokers fan them out to theirs.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

PENDING = "coalwatch.pending_events"
BROKER = "coalwatch.broker"


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str
    #: the org path of the mine it concerns: listeners see their subtree only
    org_path: str
    data: dict[str, Any]


class Broker:
    """Fans events out to listeners (callbacks run in the publishing thread: keep them short)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Event], None]] = []
        self._ids = itertools.count(1)
        self._relay: Callable[[str, str, dict[str, Any]], None] | None = None

    def relay_to(self, send: Callable[[str, str, dict[str, Any]], None] | None) -> None:
        """Also hand every event published here to ``send`` (None: stop)."""
        self._relay = send

    def listen(self, listener: Callable[[Event], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def forget(self, listener: Callable[[Event], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, kind: str, org_path: str, data: dict[str, Any]) -> Event:
        """An event of this process: to the listeners here, and to the relay."""
        item = self.publish_here(kind, org_path, data)
        relay = self._relay
        if relay is not None:
            relay(kind, org_path, data)
        return item

    def publish_here(self, kind: str, org_path: str, data: dict[str, Any]) -> Event:
        """An event to the listeners of this process only (one another process relayed)."""
        item = Event(next(self._ids), kind, org_path, data)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(item)
        return item


def attach(session: Session, broker: Broker) -> None:
    session.info[BROKER] = broker


def emit(session: Session, kind: str, org_path: str, data: dict[str, Any]) -> None:
    """Queue an event to publish when the session's transaction commits."""
    session.info.setdefault(PENDING, []).append((kind, org_path, data))


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    pending = session.info.pop(PENDING, [])
    broker: Broker | None = session.info.get(BROKER)
    if broker is not None:
        for kind, org_path, data in pending:
            broker.publish(kind, org_path, data)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(PENDING, None)
