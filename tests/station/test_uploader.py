"""Store-and-forward 断点续传: what leaves the outbox, when, and only when acknowledged."""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import random
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from coalwatch.station.outbox import Outbox
from coalwatch.station.uploader import Backoff, HttpTransport, Uploader
from coalwatch.wire.batches import parse_body
from coalwatch.wire.signing import generate_private_key
from tests.station.conftest import CenterTransport, real_center
from tests.station.fakes import FakeCenter
from tests.support.world import Station, World

NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
KEY = generate_private_key()


def heartbeats(n: int) -> list[dict[str, Any]]:
    return [{"ts": NOW.isoformat(), "type": "heartbeat"} for _ in range(n)]


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.db")
    yield box
    box.close()


def uploader(outbox: Outbox, *centers: FakeCenter, batch_size: int = 500) -> Uploader:
    by_url = {f"http://c{i}": c for i, c in enumerate(centers)}

    class Routed:
        def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            base = url.split("/api/")[0]
            return by_url[base].post(url, body, headers)

        def close(self) -> None:
            pass

    return Uploader(
        outbox,
        "S1",
        KEY,
        list(by_url),
        batch_size=batch_size,
        transport=Routed(),
        clock=lambda: NOW,
        backoff=Backoff(0.01, 0.05),
    )


def send(up: Uploader) -> bool | None:
    async def once() -> bool | None:
        return await up.send_once()

    try:
        return asyncio.run(once())
    finally:
        up._executor.shutdown()
        up._executor = type(up._executor)(max_workers=1)


def test_signed_batches_oldest_first_and_only_acknowledged_records_leave(outbox: Outbox) -> None:
    center = FakeCenter(KEY.public_key())
    outbox.append(heartbeats(1200))
    up = uploader(outbox, center)
    assert send(up) is True
    batch = parse_body(center.bodies[0])
    assert batch["station"] == "S1"
    assert [r["seq"] for r in batch["records"]] == list(range(1, 501))
    assert outbox.count() == 700
    assert send(up) is True and send(up) is True
    assert outbox.count() == 0
    assert send(up) is None  # nothing to send
    assert sorted(center.records) == list(range(1, 1201))
    assert max(len(parse_body(b)["records"]) for b in center.bodies) == 500


def test_records_the_center_reports_missing_are_sent_again(outbox: Outbox) -> None:
    center = FakeCenter()
    center.drop = {3, 4}  # lost on the way
    outbox.append(heartbeats(6))
    up = uploader(outbox, center)
    send(up)
    assert center.gaps == [(3, 4)]
    assert [r["seq"] for r in outbox.pending(10)] == [3, 4]
    send(up)
    assert center.gaps == [] and outbox.count() == 0
    assert sorted(center.records) == [1, 2, 3, 4, 5, 6]


def test_a_refused_batch_deletes_nothing_and_is_logged_once(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    center = FakeCenter()
    center.status = 401
    center.error = {"code": "unauthorized", "message": "the signature does not match"}
    outbox.append(heartbeats(3))
    up = uploader(outbox, center)
    with caplog.at_level(logging.INFO, logger="coalwatch.station"):
        assert send(up) is False
        assert send(up) is False
        assert outbox.count() == 3
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert "HTTP 401: unauthorized: the signature does not match" in errors[0].getMessage()
        center.status = 200
        assert send(up) is True and outbox.count() == 0
    assert "works again" in caplog.text


def test_a_server_error_or_a_dead_center_deletes_nothing(outbox: Outbox) -> None:
    center = FakeCenter()
    outbox.append(heartbeats(2))
    up = uploader(outbox, center)
    center.status = 503
    assert send(up) is False
    center.status = 200
    center.unreachable = True
    assert send(up) is False
    assert outbox.count() == 2 and up.failed_rounds == 2


def test_fails_over_to_the_next_center_and_stays_there(outbox: Outbox) -> None:
    first, second = FakeCenter(), FakeCenter()
    first.unreachable = True
    outbox.append(heartbeats(2))
    up = uploader(outbox, first, second)
    assert send(up) is True
    assert up.center == "http://c1" and sorted(second.records) == [1, 2]
    first.unreachable = False
    outbox.append(heartbeats(1))
    send(up)
    assert first.bodies == [] and sorted(second.records) == [1, 2, 3]


def test_commands_in_the_answer_go_to_the_handler(outbox: Outbox) -> None:
    center = FakeCenter()
    center.commands = [{"type": "set_poll_interval", "seconds": 2}]
    got: list[dict[str, Any]] = []
    outbox.append(heartbeats(1))
    up = uploader(outbox, center)
    up.on_commands = got.extend
    send(up)
    assert got == [{"type": "set_poll_interval", "seconds": 2}]


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(first_s=1, max_s=8)
    rng = random.Random(1)
    for failures, nominal in [(1, 1), (2, 2), (3, 4), (4, 8), (10, 8)]:
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert max(delays) - min(delays) > nominal / 4  # jittered, not fixed


def test_the_loop_retries_until_a_center_answers_then_stops_on_request(outbox: Outbox) -> None:
    center = FakeCenter()
    center.unreachable = True
    outbox.append(heartbeats(5))
    up = uploader(outbox, center)

    async def main() -> None:
        stop, wake = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(up.run(stop, wake, idle_s=0.05))
        await asyncio.sleep(0.2)
        assert outbox.count() == 5 and up.failed_rounds >= 2
        center.unreachable = False
        for _ in range(100):
            await asyncio.sleep(0.02)
            if outbox.count() == 0:
                break
        assert outbox.count() == 0
        stop.set()
        await asyncio.wait_for(task, 1)

    asyncio.run(main())
    up.close()
    assert center.closed is False  # the routed transport is the test's


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    seen: ClassVar[list[tuple[str, bytes, str]]] = []
    close_after = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, body, self.headers["X-Signature"]))
        answer = json.dumps(
            {"acked_seq": 1, "duplicates": 0, "rejected": [], "gaps": [], "commands": []}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        # drop the kept-alive connection without telling (as an idle timeout does)
        self.close_connection = self.close_after

    def log_message(self, *args: Any) -> None:
        pass


def test_http_transport_keeps_the_connection_and_survives_a_closed_idle_one() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    transport = HttpTransport(timeout_s=2)
    url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/stations/S1/batches"
    try:
        assert transport.post(url, b"{}", {"X-Signature": "s"})[0] == 200
        connection = next(iter(transport._connections.values()))
        assert transport.post(url, b"{}", {"X-Signature": "s"})[0] == 200
        assert next(iter(transport._connections.values())) is connection
        # the server closes the idle connection: the next post reconnects once
        _Handler.close_after = True
        assert transport.post(url, b"{}", {"X-Signature": "s"})[0] == 200
        _Handler.close_after = False
        assert transport.post(url, b"{}", {"X-Signature": "s"})[0] == 200
        assert len(_Handler.seen) == 4
        assert _Handler.seen[0][0] == "/api/v1/stations/S1/batches"
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
        thread.join()
    with pytest.raises(OSError):
        transport.post(url, b"{}", {})


def test_a_center_that_takes_smaller_batches_gets_smaller_batches(outbox: Outbox) -> None:
    center = FakeCenter()
    outbox.append(heartbeats(300))
    up = uploader(outbox, center)
    center.status = 422
    center.error = {"code": "batch_too_large", "message": "300 records in one batch; at most 100"}
    assert send(up) is False
    assert up.batch_size == 150
    assert send(up) is False
    assert up.batch_size == 75
    center.status = 200
    while send(up):
        pass
    assert outbox.count() == 0
    assert max(len(parse_body(b)["records"]) for b in center.bodies[2:]) == 75


# ---- against a real center (the app in process, SQLite) -----------------------------------


def real_uploader(outbox: Outbox, transport: CenterTransport, key: Any = KEY) -> Uploader:
    return Uploader(
        outbox,
        "S1",
        key,
        ["http://center"],
        batch_size=500,
        transport=transport,
        clock=transport.w.clock,
        backoff=Backoff(0.01, 0.05),
    )


def center_seqs(w: World) -> list[int]:
    return sorted(r["seq"] for r in w.ok(w.get("/mines/M1/records", limit=5000))["items"])


def test_a_real_center_acknowledges_what_it_stored_in_batches_oldest_first(
    outbox: Outbox, sqlite_url: str
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport):
        at = w.clock().isoformat()
        outbox.append([{"ts": at, "type": "heartbeat"} for _ in range(1200)])
        up = real_uploader(outbox, transport)
        # 1,200 records in batches of at most 500: 500 + 500 + 200
        assert send(up) is True and outbox.count() == 700
        assert center_seqs(w) == list(range(1, 501))
        while send(up):
            pass
        assert outbox.count() == 0 and center_seqs(w) == list(range(1, 1201))
        assert transport.statuses == [200, 200, 200]


def test_a_real_center_refuses_a_wrong_signature_and_nothing_leaves(
    outbox: Outbox, sqlite_url: str
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport):
        outbox.append([{"ts": w.clock().isoformat(), "type": "heartbeat"} for _ in range(3)])
        up = real_uploader(outbox, transport, key=generate_private_key())
        assert send(up) is False and send(up) is False
        assert transport.statuses == [401, 401]
        assert outbox.count() == 3 and center_seqs(w) == []


def test_a_real_center_ahead_of_the_station_gets_the_records_after_its_seq(
    outbox: Outbox, sqlite_url: str
) -> None:
    with real_center(sqlite_url, KEY) as (w, transport):
        # the station's disk was replaced: the center already holds seq 1000
        at = w.clock()
        w.stations["S1"] = Station("S1", KEY)
        w.ok(w.upload("S1", [{"seq": 1000, "ts": at, "type": "heartbeat"}]))
        outbox.append([{"ts": at.isoformat(), "type": "heartbeat"} for _ in range(3)])
        up = real_uploader(outbox, transport)
        send(up)
        assert [r["seq"] for r in outbox.pending(10)] == [1001, 1002, 1003]
        send(up)
        assert outbox.count() == 0 and center_seqs(w)[-3:] == [1001, 1002, 1003]
        assert outbox.append([{"ts": at.isoformat(), "type": "heartbeat"}]) == [1004]


def test_a_dead_center_then_a_real_one_and_the_uploader_stays_there(
    outbox: Outbox, sqlite_url: str
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on: a dead center
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with real_center(sqlite_url, KEY) as (w, transport):
        wire = HttpTransport(timeout_s=2)

        class Routed:
            def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
                if url.startswith(dead):
                    return wire.post(url, body, headers)
                return transport.post(url, body, headers)

            def close(self) -> None:
                wire.close()

        at = w.clock().isoformat()
        outbox.append([{"ts": at, "type": "heartbeat"} for _ in range(2)])
        up = Uploader(
            outbox,
            "S1",
            KEY,
            [dead, "http://center"],
            transport=Routed(),
            clock=w.clock,
            backoff=Backoff(0.01, 0.05),
        )
        assert send(up) is True
        assert up.center == "http://center" and center_seqs(w) == [1, 2]
        outbox.append([{"ts": at, "type": "heartbeat"}])
        assert send(up) is True and center_seqs(w) == [1, 2, 3]
        assert transport.statuses == [200, 200]
        up.close()


def test_a_long_backoff_ends_when_the_center_listens_again(outbox: Outbox) -> None:
    """The center was down long enough for the back-off to reach its cap; it comes back
    on its port: the station sends within a knock, not after the back-off."""
    with socket.socket() as sock:  # a port nobody listens on, yet
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outbox.append(heartbeats(1))
    up = Uploader(
        outbox,
        "S1",
        KEY,
        [f"http://127.0.0.1:{port}"],
        transport=HttpTransport(timeout_s=2),
        clock=lambda: NOW,
        backoff=Backoff(600.0, 600.0),  # 300–600 s without the knock
    )
    server: http.server.ThreadingHTTPServer | None = None

    async def main() -> None:
        nonlocal server
        stop, wake = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(up.run(stop, wake, idle_s=0.05))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if up.failed_rounds:
                break
        assert up.failed_rounds == 1 and outbox.count() == 1
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        for _ in range(300):  # bounded: 30 s, far below the back-off
            await asyncio.sleep(0.1)
            if outbox.count() == 0:
                break
        assert outbox.count() == 0
        stop.set()
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(main())
    finally:
        up.close()
        if server is not None:
            server.shutdown()
            server.server_close()


def test_a_center_that_answered_503_is_tried_again_soon(outbox: Outbox) -> None:
    center = FakeCenter()
    center.status, center.error = 503, {"code": "database_unavailable", "message": "retry"}
    outbox.append(heartbeats(1))
    up = uploader(outbox, center)
    up.backoff = Backoff(600.0, 600.0)

    async def main() -> None:
        assert await up.send_once() is False
        assert up.busy  # the next wait is the center's few seconds, not the back-off

    asyncio.run(main())
    up.close()
