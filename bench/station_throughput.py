"""Station throughput: metering points one station polls and forwards per second, and the
outbox's write rate.

1. Outbox write rate: records appended per second by the station's outbox (SQLite,
   WAL, ``synchronous=FULL``: every commit is an fsync), one poll cycle per
   transaction, for cycles of 1, 10 and 100 records.
2. Simulated field: ``--points`` belt points (``coalwatch.sim``: a BW500-style
   integrator and an I/O module each, so 2 Modbus TCP servers per point) spread
   over ``--sim-processes`` child processes (each its own GIL), on loopback.
3. A sink center in a child process: it answers every batch with ``acked_seq`` =
   its last seq and checks nothing (the center's own ingest rate is
   ``bench/ingest_throughput.py``'s), so the figure is the station's.
4. The real station agent in this process (buses, pollers, outbox, uploader)
   with its poll interval at the floor, so cycles run back to back, for
   ``--seconds``: points polled per second (every value of both devices of a
   point read, decoded and turned into records), records stored and forwarded
   (acknowledged) per second, and the backlog left.
5. Backlog drain: a prefilled outbox of ``--backlog`` records (a long outage)
   sent to the sink in batches of 500: records forwarded per second.

Run: ``.venv/bin/python bench/station_throughput.py [--points 100] [--seconds 30]``
(about a minute with the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import logging
import multiprocessing
import shutil
import socket
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from coalwatch.station.agent import Agent, load_key
from coalwatch.station.config import load_config
from coalwatch.station.outbox import Outbox
from coalwatch.station.uploader import HttpTransport, Uploader
from coalwatch.wire.signing import generate_private_key, private_key_pem

from _common import free_port, machine


def outbox_rate(directory: Path, cycle: int, seconds: float) -> float:
    """Records per second appended in transactions of ``cycle`` records.

    Every size writes to the same file, largest first: the WAL has then reached
    its steady size, and a commit's fsync does not also grow the file.
    """
    box = Outbox(directory / "rate.db")
    record = {
        "ts": "2026-03-15T04:00:00+00:00",
        "type": "totalizer",
        "point": "B1",
        "total_t": Decimal("1234.567"),
        "flow_tph": Decimal("640.000"),
    }
    records = [record] * cycle
    state = {"device:B1:0": {"total_t": Decimal("1234.567")}}
    written = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        box.append(records, state)
        written += cycle
    elapsed = time.perf_counter() - start
    box.close()
    return written / elapsed


def run_sims(codes: list[str], conn: Connection) -> None:
    """A child process: belt simulators for ``codes``; sends endpoints, stops on a message."""
    from coalwatch.sim import BeltSpec, SimSet

    belts = [
        BeltSpec(code=c, rate_tph=600, start_t=Decimal(1000), time_factor=60, seed=i)
        for i, c in enumerate(codes)
    ]
    sims = SimSet(belts=belts)
    sims.start()
    try:
        conn.send(sims.endpoints)
        conn.recv()
    finally:
        sims.stop()


class _Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        seqs = [r["seq"] for r in json.loads(body)["records"]]
        answer = json.dumps(
            {"acked_seq": max(seqs), "duplicates": 0, "rejected": [], "gaps": [], "commands": []}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def run_sink(port: int) -> None:
    """A child process: a center that acknowledges everything."""
    http.server.ThreadingHTTPServer(("127.0.0.1", port), _Sink).serve_forever()


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def station_toml(directory: Path, endpoints: dict[str, tuple[str, int]], sink: str) -> Path:
    lines = [
        "[station]",
        'code = "BENCH"',
        f'key_file = "{directory / "station.key"}"',
        f'centers = ["{sink}"]',
        f'outbox = "{directory / "station.db"}"',
        "poll_interval_s = 0.001",  # the floor: cycles back to back
        "heartbeat_s = 30",
    ]
    for key, (host, port) in endpoints.items():
        lines += [f'[buses."{key}"]', 'kind = "tcp"', f'host = "{host}"', f"port = {port}"]
    for key in endpoints:
        if key.endswith("-IO"):
            continue
        lines += ["[[points]]", f'code = "{key}"', 'kind = "belt"']
        lines += ["[[points.devices]]", f'bus = "{key}"', 'map = "bw500"']
        lines += ["[[points.devices]]", f'bus = "{key}-IO"', 'map = "station_io"']
    path = directory / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    (directory / "station.key").write_bytes(private_key_pem(generate_private_key()))
    return path


async def station_phase(config_path: Path, seconds: float) -> dict[str, float]:
    config, maps = load_config(config_path)
    outbox = Outbox(config.station.outbox)
    agent = Agent(config, maps, load_key(config.station.key_file), outbox)
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(3)  # connections made, first batches gone
    polls0, records0, acked0 = agent.stats.device_polls, outbox.last_seq, outbox.stats().acked_seq
    cycles0 = agent.stats.cycles
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - start
    polls, records, stats = agent.stats.device_polls, outbox.last_seq, outbox.stats()
    cycles = agent.stats.cycles - cycles0
    agent.stop.set()
    await task
    outbox.close()
    devices = len(agent.pollers)
    points = len(config.points)
    return {
        "points": points,
        "devices": devices,
        "points_per_s": (polls - polls0) / devices * points / elapsed,
        "cycle_ms": elapsed / max(cycles, 1) * 1000,
        "stored_per_s": (records - records0) / elapsed,
        "forwarded_per_s": (stats.acked_seq - acked0) / elapsed,
        "backlog": stats.records,
    }


async def drain_phase(directory: Path, sink: str, backlog: int) -> float:
    outbox = Outbox(directory / "backlog.db")
    record = {
        "ts": "2026-03-15T04:00:00+00:00",
        "type": "totalizer",
        "point": "B1",
        "total_t": Decimal("1234.567"),
    }
    for _ in range(0, backlog, 1000):
        outbox.append([record] * 1000)
    uploader = Uploader(
        outbox,
        "BENCH",
        generate_private_key(),
        [sink],
        transport=HttpTransport(10),
        clock=lambda: datetime.now(UTC),
    )
    start = time.perf_counter()
    while await uploader.send_once():
        pass
    elapsed = time.perf_counter() - start
    uploader.close()
    sent = outbox.stats().acked_seq
    outbox.close()
    return sent / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100, help="belt points (2 devices each)")
    parser.add_argument("--seconds", type=float, default=30.0, help="station phase length")
    parser.add_argument("--sim-processes", type=int, default=2)
    parser.add_argument("--backlog", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    directory = Path(tempfile.mkdtemp(prefix="coalwatch-station-bench-"))
    context = multiprocessing.get_context("spawn")
    sims: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    sink_process = None
    try:
        print(f"station throughput — {machine()}")
        rates = {cycle: outbox_rate(directory, cycle, 3.0) for cycle in (100, 10, 1)}

        codes = [f"B{i:03d}" for i in range(args.points)]
        endpoints: dict[str, tuple[str, int]] = {}
        for n in range(args.sim_processes):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=run_sims, args=(codes[n :: args.sim_processes], theirs), daemon=True
            )
            process.start()
            sims.append((process, ours))
        for _, conn in sims:
            endpoints.update(conn.recv())
        port = free_port()
        sink_process = context.Process(target=run_sink, args=(port,), daemon=True)
        sink_process.start()
        sink = f"http://127.0.0.1:{port}"
        wait_listening(port)

        figures = asyncio.run(station_phase(station_toml(directory, endpoints, sink), args.seconds))
        drain = asyncio.run(drain_phase(directory, sink, args.backlog))

        print(
            f"  field: {figures['points']:.0f} belt points = {figures['devices']:.0f} Modbus TCP "
            f"devices in {args.sim_processes} simulator processes, loopback"
        )
        print(
            f"  points polled per second:      {figures['points_per_s']:8.0f}  "
            f"(a cycle over all points: {figures['cycle_ms']:.0f} ms)"
        )
        print(
            f"  records stored per second:     {figures['stored_per_s']:8.0f}  "
            f"forwarded (acknowledged): {figures['forwarded_per_s']:.0f}/s, "
            f"backlog at the end: {figures['backlog']:.0f}"
        )
        print(
            f"  at the regulation's 10 s per point, one station keeps "
            f"{figures['points_per_s'] * 10:.0f} points; at 5 s, "
            f"{figures['points_per_s'] * 5:.0f}"
        )
        print(
            "  outbox write rate (records/s, one transaction per cycle): "
            + ", ".join(f"cycles of {c}: {r:,.0f}" for c, r in sorted(rates.items()))
        )
        print(f"  backlog drain: {args.backlog:,} records forwarded at {drain:,.0f} records/s")
    finally:
        for process, conn in sims:
            if process.is_alive():
                conn.send("stop")
                process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
        if sink_process is not None:
            sink_process.terminate()
            sink_process.join(5)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
