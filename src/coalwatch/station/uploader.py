"""Store-and-forward 断点续传: signed batches from the outbox to the center.

The uploader sends the oldest records first (at most ``batch_size`` a batch),
signed with the station's Ed25519 key. It deletes only what the center's
answer says it holds (seq ≤ ``acked_seq`` outside ``gaps``), so a batch lost
in flight, a crash before the answer, or a center that lost records all end
in a re-send, which the center counts as duplicates. Centers are tried in
order; after a round in which none took the batch it waits with exponential
backoff and jitter. Nothing but a 200 answer deletes anything.

A long back-off must not keep the station away once its center is back: while it
waits, it knocks (a TCP connection, no request) every few seconds, and sends at once
when a center answers the knock; a center that answered 503 (its database) is tried
again after the few seconds it asked for, not the back-off.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import random
import socket
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from coalwatch.station.config import ConfigError
from coalwatch.station.outbox import Outbox
from coalwatch.wire.batches import BatchAnswer, encode_batch
from coalwatch.wire.signing import SIGNATURE_HEADER, sign

log = logging.getLogger("coalwatch.station.uploader")


class Transport(Protocol):
    """POSTs a body; returns (status, body) or raises OSError when the center is unreachable."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]: ...

    def close(self) -> None: ...


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifies the center's certificate and host name: against ``ca_file`` (a private CA,
    PEM) when given, else the system's CAs. A file that cannot be used is a ConfigError."""
    try:
        return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except FileNotFoundError:
        raise ConfigError(f"ca_file {ca_file} does not exist") from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"ca_file {ca_file} holds no usable CA certificate: {exc}") from exc


class HttpTransport:
    """``http.client`` with one kept-alive connection per center (the stdlib only)."""

    def __init__(self, timeout_s: float, context: ssl.SSLContext | None = None) -> None:
        self.timeout_s = timeout_s
        self.context = context
        self._connections: dict[str, http.client.HTTPConnection] = {}

    def _connection(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        key = f"{scheme}://{netloc}"
        existing = self._connections.get(key)
        if existing is not None:
            return existing, True
        connection = (
            http.client.HTTPSConnection(netloc, timeout=self.timeout_s, context=self.context)
            if scheme == "https"
            else http.client.HTTPConnection(netloc, timeout=self.timeout_s)
        )
        self._connections[key] = connection
        return connection, False

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for _ in range(2):
            connection, reused = self._connection(parts.scheme, parts.netloc)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    self._drop(parts.scheme, parts.netloc)
                return response.status, data
            except (OSError, http.client.HTTPException) as exc:
                self._drop(parts.scheme, parts.netloc)
                # a kept-alive connection the server closed while idle: try once afresh
                stale = isinstance(
                    exc, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError
                )
                if not (reused and stale):
                    if isinstance(exc, OSError):
                        raise
                    raise OSError(f"bad HTTP answer: {exc!r}") from exc
        raise OSError("unreachable")  # pragma: no cover - the loop returns or raises

    def _drop(self, scheme: str, netloc: str) -> None:
        connection = self._connections.pop(f"{scheme}://{netloc}", None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: each wait is drawn from [½, 1] of the nominal delay."""

    first_s: float = 1.0
    max_s: float = 60.0

    def delay(self, failures: int, rng: random.Random) -> float:
        nominal = min(self.max_s, self.first_s * 2.0 ** max(0, failures - 1))
        return float(nominal * rng.uniform(0.5, 1.0))


CommandHandler = Callable[[list[dict[str, Any]]], None]
AnswerHandler = Callable[[BatchAnswer], None]
#: is the center at this URL listening at all (cheap: no request, no database)?
Probe = Callable[[str], bool]
#: a center that answered 503 is tried again this soon (its ``Retry-After``)
RETRY_AFTER_S = 5.0


def tcp_probe(center: str, timeout_s: float = 2.0) -> bool:
    """True when a TCP connection to the center's host and port opens."""
    parts = urlsplit(center)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s).close()
    except OSError:
        return False
    return True


class Uploader:
    """Sends the outbox to the centers and applies their answers."""

    def __init__(
        self,
        outbox: Outbox,
        station: str,
        key: Ed25519PrivateKey,
        centers: Sequence[str],
        *,
        batch_size: int = 500,
        transport: Transport,
        backoff: Backoff | None = None,
        on_commands: CommandHandler | None = None,
        on_answer: AnswerHandler | None = None,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        probe: Probe = tcp_probe,
        probe_s: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.station = station
        self.key = key
        self.centers = list(centers)
        self.batch_size = batch_size
        self.transport = transport
        self.backoff = backoff or Backoff()
        self.on_commands = on_commands
        self.on_answer = on_answer
        self.clock = clock
        self.rng = rng or random.Random()
        self.probe, self.probe_s = probe, probe_s
        #: a center answered 503 in the last round: retry after RETRY_AFTER_S
        self.busy = False
        self.current = 0  # index of the center that took the last batch
        self.failed_rounds = 0
        self.sent_batches = 0
        self.sent_records = 0
        self._failing: dict[str, str] = {}
        self._lost_gaps: set[tuple[int, int]] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uploader")

    def url(self, center: str) -> str:
        return f"{center.rstrip('/')}/api/v1/stations/{self.station}/batches"

    @property
    def center(self) -> str:
        return self.centers[self.current]

    async def send_once(self) -> bool | None:
        """One batch to the first center that takes it.

        Returns True when a center answered 200, False when none did, None when
        there was nothing to send.
        """
        # after a corrupt outbox: an empty batch first, whose answer says the center's seq
        probe = self.outbox.seq_from_center
        records = [] if probe else self.outbox.pending(self.batch_size)
        if not records and not probe:
            return None
        body = encode_batch(self.station, self.clock(), records)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.key, body),
        }
        loop = asyncio.get_running_loop()
        self.busy = False
        for attempt in range(len(self.centers)):
            index = (self.current + attempt) % len(self.centers)
            center = self.centers[index]
            try:
                status, data = await loop.run_in_executor(
                    self._executor, self.transport.post, self.url(center), body, headers
                )
            except ssl.SSLCertVerificationError as exc:
                self._failure(
                    center,
                    f"TLS: the center's certificate is not trusted ({exc.verify_message}); "
                    "check ca_file",
                )
                continue
            except OSError as exc:
                self._failure(center, f"unreachable: {exc}")
                continue
            if status != 200:
                text = _error_text(data)
                too_large = status == 413 or (status == 422 and text.startswith("batch_too_large"))
                if too_large and len(records) > 1:
                    # the center takes fewer records (or bytes) a batch than sent: follow it
                    self.batch_size = max(1, len(records) // 2)
                    log.warning("%s: %s; batches of %d now", center, text, self.batch_size)
                    return False
                self.busy = self.busy or status == 503
                self._failure(center, f"HTTP {status}: {text}")
                continue
            try:
                answer = BatchAnswer.model_validate_json(data)
            except ValidationError as exc:
                self._failure(center, f"answer not understood: {exc.errors()[0]['msg']}")
                continue
            self._recovered(center, index)
            self.sent_batches += 1
            self.sent_records += len(records)
            if self._apply(answer, records):
                return True
            # a 200 that frees nothing: the center holds none of it; do not hammer it
            first, last = records[0]["seq"], records[-1]["seq"]
            self._failure(center, f"answered 200 but holds none of seqs {first}–{last}")
            break
        self.failed_rounds += 1
        return False

    def _failure(self, center: str, reason: str) -> None:
        # logged once per center and reason until it takes a batch again
        if self._failing.get(center) != reason:
            level = logging.ERROR if reason.startswith(("HTTP 4", "TLS")) else logging.WARNING
            log.log(level, "upload to %s failed: %s (will retry)", center, reason)
            self._failing[center] = reason

    def _recovered(self, center: str, index: int) -> None:
        if self._failing or self.failed_rounds:
            log.info("upload to %s works again after %d failed rounds", center, self.failed_rounds)
        self._failing.clear()
        self.failed_rounds = 0
        if index != self.current:
            log.info("switched to center %s", center)
            self.current = index

    def _apply(self, answer: BatchAnswer, records: list[dict[str, Any]]) -> bool:
        """Delete what the center holds, run its commands; False when nothing was freed."""
        if not records:  # the probe: our seqs continue after what the center holds
            moved = self.outbox.renumber_after(answer.acked_seq)
            log.warning(
                "a new outbox (the old one was corrupt): the center holds seqs up to %d; "
                "%d held records renumbered after it",
                answer.acked_seq,
                moved,
            )
            return True
        if answer.acked_seq > self.outbox.last_seq:
            moved = self.outbox.renumber_after(answer.acked_seq)
            log.error(
                "the center holds seqs up to %d, beyond this station's last (%d): the outbox "
                "was replaced; %d held records renumbered after %d",
                answer.acked_seq,
                records[-1]["seq"] if records else 0,
                moved,
                answer.acked_seq,
            )
            return True
        freed = self.outbox.acknowledge(answer.acked_seq, answer.gaps)
        for first, last in answer.gaps:
            if first > answer.acked_seq or (first, last) in self._lost_gaps:
                continue
            held = self.outbox.held(first, last)
            if held < last - first + 1:
                self._lost_gaps.add((first, last))
                log.error(
                    "the center misses seqs %d–%d; this station holds %d of them", first, last, held
                )
        if answer.rejected:
            reasons = "; ".join(f"seq {r.get('seq')}: {r.get('reason')}" for r in answer.rejected)
            log.error("the center quarantined %d records: %s", len(answer.rejected), reasons[:1000])
        if self.on_answer is not None:
            self.on_answer(answer)
        if answer.commands and self.on_commands is not None:
            self.on_commands(answer.commands)
        return freed > 0

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, idle_s: float = 5.0) -> None:
        """Send until stopped: at once while records wait, backing off while centers fail."""
        while not stop.is_set():
            wake.clear()
            try:
                result = await self.send_once()
            except Exception:
                # a bug must not stop forwarding for good; the records stay in the outbox
                log.exception("upload failed unexpectedly")
                self.failed_rounds += 1
                result = False
            if result is True:
                continue
            if result is None:
                await _wait(stop, wake, idle_s)
            else:
                delay = self.backoff.delay(self.failed_rounds, self.rng)
                if self.busy:
                    delay = min(delay, RETRY_AFTER_S * self.rng.uniform(0.5, 1.0))
                await self._back_off(stop, delay)

    async def _back_off(self, stop: asyncio.Event, delay: float) -> None:
        """Wait ``delay``, cut short when a center answers a knock (every ``probe_s``,
        jittered, so that a province's stations do not knock together)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while not stop.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            await _wait(stop, None, min(left, self.probe_s * self.rng.uniform(0.5, 1.0)))
            if stop.is_set() or loop.time() >= deadline:
                return
            for center in self.centers:
                if await loop.run_in_executor(self._executor, self.probe, center):
                    return

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.transport.close()


async def _wait(stop: asyncio.Event, wake: asyncio.Event | None, timeout: float) -> None:
    """Until stop (or wake, if given) is set, or the timeout passes."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _error_text(data: bytes) -> str:
    try:
        error = json.loads(data).get("error", {})
        return f"{error.get('code')}: {error.get('message')}"
    except (ValueError, AttributeError):
        return data[:200].decode(errors="replace")
