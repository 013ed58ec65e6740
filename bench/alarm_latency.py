"""Time from a batch's arrival to its alarm on the event stream, under steady ingest.

A real ``coalwatch serve`` (background jobs on) on a fresh database; stand-in
stations keep a steady ingest load on other mines while a probe station sends
``enclosure_open`` events. For each probe the clock starts when the batch is
sent and stops when the matching ``alarm`` event (transition ``raised``)
arrives on ``/api/v1/events``. Prints median and 99th percentile per backend.

    .venv/bin/python bench/alarm_latency.py [--backend sqlite|postgresql|both]
        [--probes 100] [--load-batches-per-s 2]
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import generate_private_key, public_key_b64, sign

from _common import backends, fresh_database, machine, median, percentile
from ingest_throughput import Server, Stream, build_stream, configure

LOAD_MINES = 4


def _listen(
    base: str,
    token: str,
    arrivals: queue.Queue[tuple[float, dict[str, Any]]],
    stop: threading.Event,
) -> None:
    with (
        httpx.Client(timeout=None) as client,
        client.stream("GET", f"{base}/api/v1/events", params={"token": token}) as response,
    ):
        kind = ""
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:") and kind == "alarm":
                arrivals.put((time.perf_counter(), json.loads(line[5:])))


def _load(base: str, streams: Sequence[Stream], per_second: float, stop: threading.Event) -> int:
    sent = 0
    index = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            began = time.perf_counter()
            stream = streams[index % len(streams)]
            batch = index // len(streams)
            if batch >= len(stream.batches):
                return sent
            body, _ = stream.body(batch, datetime.now(UTC))
            answer = client.post(
                f"/api/v1/stations/{stream.station}/batches",
                content=body,
                headers={"X-Signature": sign(stream.key, body), "Content-Type": "application/json"},
            )
            if answer.status_code != 200:
                raise RuntimeError(f"load batch refused: {answer.status_code} {answer.text[:200]}")
            sent += 500
            index += 1
            time.sleep(max(0.0, 1 / per_second - (time.perf_counter() - began)))
    return sent


def run_backend(backend: str, probes: int, per_second: float) -> dict[str, float]:
    with fresh_database(backend, "alarms") as db, tempfile.TemporaryDirectory() as tmp:
        server = Server(db.url, Path(tmp) / "serve.log")
        token = server.cli("token", "create", "--name", "bench", "--write").split()[-1]
        server.start()
        try:
            made = configure(server, token, LOAD_MINES)
            start = datetime.now(UTC) - timedelta(days=1)
            rng = random.Random(3)
            streams = [build_stream(m, s, k, 200, start, rng) for m, s, k in made]
            probe_key = generate_private_key()
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=f"{server.base}/api/v1", headers=headers, timeout=30) as api:
                api.post(
                    "/mines",
                    json={
                        "code": "PROBE",
                        "name": "探针矿",
                        "org": "BENCH",
                        "annual_capacity_t": 1200000,
                    },
                ).raise_for_status()
                api.post(
                    "/mines/PROBE/points", json={"code": "B1", "name": "B1", "kind": "belt"}
                ).raise_for_status()
                api.post(
                    "/mines/PROBE/stations",
                    json={"code": "PS", "public_key": public_key_b64(probe_key)},
                ).raise_for_status()
            arrivals: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
            stop = threading.Event()
            listener = threading.Thread(
                target=_listen, args=(server.base, token, arrivals, stop), daemon=True
            )
            listener.start()
            time.sleep(0.5)
            loaded = [0]

            def load() -> None:
                loaded[0] = _load(server.base, streams, per_second, stop)

            loader = threading.Thread(target=load, daemon=True)
            loader.start()
            time.sleep(1.0)  # the load is running before the first probe
            latencies: list[float] = []
            seq = 0
            with httpx.Client(base_url=server.base, timeout=30) as client:
                for _ in range(probes):
                    for name in ("enclosure_open", "enclosure_closed"):
                        seq += 1
                        now = datetime.now(UTC)
                        body = encode_batch(
                            "PS",
                            now,
                            [
                                {
                                    "seq": seq,
                                    "ts": now,
                                    "type": "event",
                                    "point": "B1",
                                    "event": name,
                                }
                            ],
                        )
                        began = time.perf_counter()
                        answer = client.post(
                            "/api/v1/stations/PS/batches",
                            content=body,
                            headers={
                                "X-Signature": sign(probe_key, body),
                                "Content-Type": "application/json",
                            },
                        )
                        answer.raise_for_status()
                        if name != "enclosure_open":
                            continue
                        deadline = time.perf_counter() + 10
                        while True:
                            arrived, data = arrivals.get(
                                timeout=max(0.01, deadline - time.perf_counter())
                            )
                            if data.get("mine") == "PROBE" and data.get("transition") == "raised":
                                latencies.append((arrived - began) * 1000)
                                break
                    time.sleep(0.05)
            stop.set()
            loader.join(timeout=60)
            return {
                "median_ms": median(latencies),
                "p99_ms": percentile(latencies, 0.99),
                "max_ms": max(latencies),
                "probes": len(latencies),
                "load_records": loaded[0],
            }
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--load-batches-per-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    print(f"alarm latency: batch sent → alarm on /api/v1/events ({machine()})")
    print(
        f"steady load: {args.load_batches_per_s:g} batches of 500 records per second "
        f"on {LOAD_MINES} other mines"
    )
    for backend in backends(args.backend):
        figures = run_backend(backend, args.probes, args.load_batches_per_s)
        print(
            f"{backend:>10}: median {figures['median_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
            f"max {figures['max_ms']:.1f} ms over {figures['probes']:.0f} probes "
            f"({figures['load_records']:.0f} load records ingested meanwhile)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
