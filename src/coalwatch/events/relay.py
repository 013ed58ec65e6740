"""Several center processes, one truth: live events and cache invalidations between the
processes on one PostgreSQL, through its ``LISTEN/NOTIFY`` (no other service).

Each process publishes to its own listeners at once (``Broker``) and hands the event to
its relay, which sends it as a notification on one channel of the database; every other
process's relay hears it and publishes it to its own listeners. So a browser connected
to any process sees the alarms and figures of batches any process ingested, and the
timed rules' alarms of the jobs process.

Two threads and two connections of their own per process (outside the pool): one
listens, one sends. Sending is asynchronous to the request that caused the event: the
commit is not delayed and the request holds no connection longer. Notifications
queued while the sender catches up go out in one round trip (a pipeline). What is lost:
live events are a view, not the record (the alarms and figures are in the database);
an event sent while the listener of another process was reconnecting is missed there,
and that process forgets all its caches when it is back (``invalidation.ALL``).

The channel is named after the schema, so that centers on separate schemas of one
database (tests) do not hear each other. A notification carries at most 8000 bytes; an
event larger than that stays in its process (and is logged).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import queue
import re
import secrets
import threading
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from coalwatch.events import invalidation
from coalwatch.events.broker import Broker

log = logging.getLogger("coalwatch.events.relay")

#: PostgreSQL's limit on a notification's payload is 8000 bytes
MAX_PAYLOAD = 7900
#: notifications sent in one round trip at most
SEND_BATCH = 500
#: how long the threads wait before they look whether to stop
POLL_S = 0.5


#: the notifications of one send, in the order queued
_NOTIFY_ALL = "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload"


def uses_relay(database_url: str) -> bool:
    """Whether the database can carry events between processes (PostgreSQL)."""
    return make_url(database_url).get_backend_name() == "postgresql"


def conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as a libpq connection string (its query, e.g. ``options`` with
    a search_path, kept as the driver would pass it)."""
    url = make_url(database_url)
    parts: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    for key, value in url.query.items():
        parts[key] = value if isinstance(value, str) else value[-1]
    return make_conninfo(**{k: v for k, v in parts.items() if v is not None})


def channel_name(schema: str) -> str:
    name = "coalwatch" if schema == "public" else f"coalwatch:{schema}"
    if len(name.encode()) > 63:  # an identifier's length
        name = f"coalwatch:{hashlib.sha256(schema.encode()).hexdigest()[:32]}"
    return name


class PgRelay:
    """The link of one process to the others on its PostgreSQL database."""

    def __init__(self, database_url: str, broker: Broker, connect_timeout_s: int = 3) -> None:
        self._conninfo = conninfo(database_url)
        self._timeout = connect_timeout_s
        self._broker = broker
        self.origin = f"{os.getpid()}:{secrets.token_hex(4)}"
        #: how this process's own notifications begin (``_send`` puts the origin first)
        self._own = json.dumps({"o": self.origin}, separators=(",", ":"))[:-1] + ","
        self._numbers = itertools.count(1)
        #: payloads to send; None asks the sender to wake the listener and stop
        self._outbox: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []
        self.channel = ""

    # ---- what this process sends -------------------------------------------------------

    def send_event(self, kind: str, org_path: str, data: dict[str, Any]) -> None:
        self._send({"e": [kind, org_path, data]})

    def send_invalidation(self, kind: str) -> None:
        self._send({"i": kind})

    def _send(self, body: dict[str, Any]) -> None:
        # the number keeps equal events apart (PostgreSQL folds identical notifications
        # of one transaction into one)
        body = {"o": self.origin, "n": next(self._numbers), **body}
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
        if len(payload.encode()) > MAX_PAYLOAD:
            log.warning("an event of %d bytes is too large for the other processes", len(payload))
            return
        self._outbox.put(payload)

    # ---- life --------------------------------------------------------------------------

    def start(self, wait_s: float = 5.0) -> None:
        """Start listening and sending; returns once listening (or after ``wait_s``),
        so that what is published from then on reaches this process."""
        self.channel = channel_name(self._schema())
        for target, name in ((self._listen, "listen"), (self._deliver, "notify")):
            thread = threading.Thread(target=target, name=f"coalwatch-relay-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._broker.relay_to(self.send_event)
        invalidation.relay_to(self.send_invalidation)
        if not self._listening.wait(wait_s):
            log.warning("not yet listening to the other center processes; going on")

    def stop(self) -> None:
        self._broker.relay_to(None)
        invalidation.stop_relay(self.send_invalidation)
        self._stop.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def _schema(self) -> str:
        try:
            with psycopg.connect(self._conninfo, connect_timeout=self._timeout) as connection:
                row = connection.execute("SELECT current_schema()").fetchone()
                return str(row[0]) if row and row[0] else "public"
        except psycopg.Error:
            # the database is not there yet: the schema the URL asks for
            found = re.search(r"search_path(?:=|%3D)([^\s,&%]+)", self._conninfo)
            log.warning("the database is not reachable; events wait for it")
            return found.group(1) if found else "public"

    # ---- the threads -------------------------------------------------------------------

    def _listen(self) -> None:
        failing = False
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=self._timeout
                ) as connection:
                    connection.execute(
                        psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self.channel))
                    )
                    self._listening.set()
                    if not first:  # announcements may have been missed meanwhile
                        invalidation.received(invalidation.ALL)
                    if failing:
                        log.info("listening to the other center processes again")
                        failing = False
                    first = False
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=POLL_S):
                            self._heard(notice.payload)
                            if self._stop.is_set():
                                break
            except psycopg.Error:
                if not failing:  # once on failure, once on recovery
                    log.exception("lost the link to the other center processes; retrying")
                    failing = True
                self._stop.wait(1.0)

    def _heard(self, payload: str) -> None:
        if payload.startswith(self._own):
            return  # this process published it already (told without parsing it)
        try:
            body = json.loads(payload)
            if body.get("o") == self.origin:
                return  # this process published it already
            if "e" in body:
                kind, org_path, data = body["e"]
                self._broker.publish_here(str(kind), str(org_path), dict(data))
            elif "i" in body:
                invalidation.received(str(body["i"]))
        except (ValueError, TypeError, KeyError):
            log.warning("not a coalwatch notification on %s: %.200s", self.channel, payload)

    def _deliver(self) -> None:
        connection: psycopg.Connection[Any] | None = None
        failing = False
        try:
            while True:
                try:
                    first = self._outbox.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                payloads = [first]
                while len(payloads) < SEND_BATCH and payloads[-1] is not None:
                    try:
                        payloads.append(self._outbox.get_nowait())
                    except queue.Empty:
                        break
                stopping = payloads[-1] is None
                if stopping:  # what is queued goes out, then the listener is woken
                    payloads[-1] = json.dumps({"o": self.origin, "n": 0})
                try:
                    if connection is None or connection.closed:
                        connection = psycopg.connect(
                            self._conninfo, autocommit=True, connect_timeout=self._timeout
                        )
                    # one statement (its own transaction) for the lot, delivered in order:
                    # one round trip, where a transaction around an executemany took three
                    connection.execute(_NOTIFY_ALL, (self.channel, payloads))
                    if failing:
                        log.info("sending to the other center processes again")
                        failing = False
                except psycopg.Error:
                    if not failing:
                        log.exception(
                            "could not send %d events to the other processes", len(payloads)
                        )
                        failing = True
                    if connection is not None:
                        connection.close()
                        connection = None
                    if not stopping:
                        self._stop.wait(1.0)
                if stopping:
                    return
        finally:
            if connection is not None:
                connection.close()
