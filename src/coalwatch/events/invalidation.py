"""Cache invalidation across the center's processes.

A process that keeps facts in memory (points, thresholds, shutdowns ...) registers a
callback; whoever changes such a fact announces its kind once the change is committed.
The callbacks of this process run at once; with several processes on one PostgreSQL
(``coalwatch.events.relay``) the announcement also reaches the other processes, which
run theirs. A kind is a short name agreed between the cache and the writer
(``"points"``); ``ALL`` means "forget everything" and is what a process hears when its
link to the others was broken and it may have missed announcements.

Announce after the commit (``announce_after_commit`` does it for a session): a process
that reloads on the announcement must find the change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("coalwatch.events.invalidation")

#: every cache: announced to a process that may have missed announcements
ALL = "*"
#: a kind travels in a PostgreSQL notification: keep it short and plain
MAX_KIND = 100
PENDING = "coalwatch.pending_invalidations"

Callback = Callable[[str], None]

_lock = threading.Lock()
_callbacks: list[Callback] = []
_relay: Callback | None = None


def register(callback: Callback) -> Callable[[], None]:
    """Call ``callback(kind)`` on every announcement (here or in another process);
    returns the function that unregisters it."""
    with _lock:
        _callbacks.append(callback)

    def unregister() -> None:
        with _lock:
            if callback in _callbacks:
                _callbacks.remove(callback)

    return unregister


def announce(kind: str) -> None:
    """``kind`` of fact changed (and is committed): every process forgets it."""
    if not kind or len(kind) > MAX_KIND or "\n" in kind:
        raise ValueError(f"not a cache kind: {kind!r}")
    received(kind)
    relay = _relay
    if relay is not None:
        relay(kind)


def announce_after_commit(session: Session, kind: str) -> None:
    """``announce(kind)`` when, and only if, the session's transaction commits."""
    pending: set[str] = session.info.setdefault(PENDING, set())
    pending.add(kind)


def received(kind: str) -> None:
    """Run this process's callbacks (an announcement from here or from another process)."""
    with _lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback(kind)
        except Exception:  # one cache's fault must not keep the others stale
            log.exception("a cache could not forget %r", kind)


def relay_to(send: Callback) -> None:
    """Also hand every announcement made here to ``send``."""
    global _relay
    _relay = send


def stop_relay(send: Callback) -> None:
    """Stop handing announcements to ``send`` (if it is still the one)."""
    global _relay
    if _relay == send:
        _relay = None


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    for kind in sorted(session.info.pop(PENDING, ())):
        announce(kind)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(PENDING, None)
