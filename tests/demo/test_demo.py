"""The embedded demo: a seeded region whose figures come through the real ingest path,
and `coalwatch demo` as a user runs it."""

from __future__ import annotations

import ast
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient

from coalwatch.config import Settings
from coalwatch.demo import history, run
from coalwatch.demo.history import BW500_MODULUS_KG
from coalwatch.demo.region import BELT, plan_mines, stand_in_station
from coalwatch.demo.run import Demo, prepare_demo
from coalwatch.domain.units import tonnes_to_kg
from coalwatch.web.app import create_app
from coalwatch.wire.signing import generate_private_key

COALWATCH = Path(sys.executable).with_name("coalwatch")


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _prepare(tmp_path: Path, mines: int, hours: int) -> Demo:
    settings = Settings(var_dir=tmp_path, database_url="")
    start = _hour(datetime.now(settings.tz)) - timedelta(hours=hours)
    return prepare_demo(settings, mines, backfill_from=start)


def _measured_kg(client: TestClient, demo: Demo, mine: str) -> int:
    """A mine's gross production since the history began, from the API."""
    items = client.get(
        f"/api/v1/mines/{mine}/production",
        params={
            "period": "hour",
            "from": demo.backfill_from.isoformat(),
            "to": (_hour(datetime.now(UTC)) + timedelta(hours=1)).isoformat(),
        },
        headers={"Authorization": f"Bearer {demo.token}"},
    )
    assert items.status_code == 200, items.text
    return sum(tonnes_to_kg(Decimal(str(i["gross_t"]))) for i in items.json()["items"])


def test_backfilled_figures_equal_what_the_stations_measured(tmp_path: Path) -> None:
    # 26 hours of history for 3 mines: the third mine's belt totalizer starts
    # 1,000 t below its 2^32 kg wrap and produces more than that, so the sum
    # crosses a rollover and must still come out to the kilogram.
    demo = _prepare(tmp_path, mines=3, hours=26)
    assert (tmp_path / "demo.db").exists()
    headers = {"Authorization": f"Bearer {demo.token}"}
    app = create_app(demo.settings)
    with TestClient(app) as client:
        for spec, station in zip(demo.mines, demo.stations, strict=True):
            assert station.pending == []
            belt = next(p for p in station.points if p.code == BELT)
            assert (belt.total_kg - spec.belt_start_kg) % BW500_MODULUS_KG == belt.produced_kg
            assert station.produced_kg > 0
            assert _measured_kg(client, demo, spec.code) == station.produced_kg

            summary = client.get(f"/api/v1/mines/{spec.code}/summary", headers=headers).json()
            assert Decimal(str(summary["year"]["gross_t"])) >= Decimal(
                str(summary["day"]["gross_t"])
            )
            assert summary["year"]["capacity_t"] == float(spec.annual_capacity_t)

        wrapped = demo.stations[2].points[0]
        assert wrapped.total_kg < demo.mines[2].belt_start_kg, "the rollover was not exercised"

        mines = client.get("/api/v1/mines", headers=headers).json()["items"]
        acked = {s["code"]: s["acked_seq"] for m in mines for s in m["stations"]}
        assert acked == {s.code: s.next_seq - 1 for s in demo.stations}
        assert {len(m["points"]) for m in mines} == {1, 2}  # one mine also has a skip
        alarms = client.get("/api/v1/alarms", headers=headers).json()["items"]
        # overproduction may well be raised; a bad record, a gap, a skewed clock or a
        # rollover taken for a reset may not
        troubles = {"invalid_data", "sequence_gap", "clock_skew", "parameter_change"}
        assert [a for a in alarms if a["type"] in troubles] == []
    app.state.coalwatch.sessions.kw["bind"].dispose()


def test_station_keeps_records_in_a_gap_until_they_arrive() -> None:
    spec = plan_mines(1)[0]
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    step = timedelta(seconds=5)
    station = stand_in_station(spec, generate_private_key(), ZoneInfo("Asia/Shanghai"), start, step)
    station.sample_until(start + timedelta(minutes=1), step)
    seqs = [r["seq"] for r in station.pending]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 10
    # The center holds everything up to the last seq but the third and fourth.
    station.on_answer({"acked_seq": seqs[-1], "gaps": [[3, 4]], "rejected": []})
    assert [r["seq"] for r in station.pending] == [3, 4]
    station.on_answer({"acked_seq": seqs[-1], "gaps": [], "rejected": []})
    assert station.pending == []


def _read(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _drain(lines: queue.Queue[str]) -> str:
    text = ""
    while not lines.empty():
        text += lines.get()
    return text


@pytest.mark.timeout(90)
def test_coalwatch_demo_serves_growing_figures_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALWATCH_")}
    process = subprocess.Popen(
        [str(COALWATCH), "demo", "--port", "0", "--mines", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    readers = [
        threading.Thread(target=_read, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_read, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        printed = ""
        deadline = time.monotonic() + 45
        while "Ctrl-C" not in printed:
            assert process.poll() is None, "the demo exited early"
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no URL printed; stdout so far: {printed!r}"
            try:
                printed += out.get(timeout=min(remaining, 1))
            except queue.Empty:
                continue
        url = re.search(r"(http://127\.0\.0\.1:\d+)/\s", printed)
        token = re.search(r"TOKEN=(cw_\S+)", printed)
        assert url and token, printed
        assert (
            (tmp_path / "var" / "demo-credentials.txt")
            .read_text(encoding="utf-8")
            .count(token.group(1))
        )
        mines = re.findall(r"/api/v1/mines/(\w+)/summary", printed)
        assert mines == ["XY001"]

        with httpx.Client(
            base_url=url.group(1),
            headers={"Authorization": f"Bearer {token.group(1)}"},
            trust_env=False,
            timeout=10,
        ) as client:

            def day_figures() -> list[Decimal]:
                figures = []
                for mine in ("XY001", "XY002"):
                    response = client.get(f"/api/v1/mines/{mine}/summary")
                    assert response.status_code == 200, response.text
                    figures.append(Decimal(str(response.json()["day"]["gross_t"])))
                return figures

            # The two mines change shifts an hour apart, so at least one is running;
            # a reading again after 6 s shows it grow (a few tries cover a short stop).
            first = day_figures()
            grew = False
            for _ in range(3):
                time.sleep(6)
                later = day_figures()
                if any(b > a for a, b in zip(first, later, strict=True)):
                    grew = True
                    break
                first = later
            assert grew, f"day figures did not grow: {first} → {later}"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for reader in readers:
            reader.join(timeout=5)
    assert "demo stopped" in _drain(out)
    logged = _drain(err)
    # start-up notes only: no traceback, no error, no upload trouble
    assert "Traceback" not in logged and " ERROR " not in logged, logged
    assert " WARNING " not in logged, logged


def test_stand_in_station_uses_no_center_code() -> None:
    # Like the real station, it may share the wire schemas and nothing else.
    source = Path(history.__file__).read_text(encoding="utf-8")
    modules = {
        node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    ours = {m for m in modules if m.split(".")[0] == "coalwatch"}
    assert ours and all(m.startswith("coalwatch.wire.") for m in ours), ours


SH = ZoneInfo("Asia/Shanghai")


def test_history_holds_all_of_last_month_and_this_month(tmp_path: Path) -> None:
    # Injected 'now': Tuesday 3 March 2026, 10:00 in Shanghai. Last month is February.
    now = datetime(2026, 3, 3, 10, 0, tzinfo=SH)
    settings = Settings(var_dir=tmp_path, database_url="")
    demo = prepare_demo(settings, 1, clock=lambda: now)
    assert demo.backfill_from == datetime(2026, 2, 1, tzinfo=SH)
    station = demo.stations[0]
    assert station.pending == []
    app = create_app(demo.settings)
    with TestClient(app) as client:
        answer = client.get(
            "/api/v1/mines/XY001/production",
            params={
                "period": "month",
                "from": "2026-02-01T00:00:00+08:00",
                "to": "2026-04-01T00:00:00+08:00",
            },
            headers={"Authorization": f"Bearer {demo.token}"},
        )
        assert answer.status_code == 200, answer.text
        months = [tonnes_to_kg(Decimal(str(i["gross_t"]))) for i in answer.json()["items"]]
        alarms = client.get(
            "/api/v1/alarms", headers={"Authorization": f"Bearer {demo.token}"}
        ).json()["items"]
    app.state.coalwatch.sessions.kw["bind"].dispose()
    february, march = months
    # XY001: A = 900,000 t/a, so H = 900,000 / 330 / 16 = 170.4545 t/h. A day runs
    # three shifts of 480 min less 45 min of handover (7.25 h) at 0.35, 0.9 and 0.85 H:
    # 2.1 × 7.25 = 15.225 H-hours. The hour factor is 0.88 to 1.04 and a stop takes at
    # most 20 min of 5 % of the hours, so a day carries at least about
    # 0.85 × 15.225 × 170.45 = 2,206 t; a pushing day at most
    # (0.35 × 7.25 + 2 × (6 × 1.25 + 1.25 × 0.9 × 1.04)) × 170.45 ≈ 3,400 t.
    assert 28 * 2_200_000 <= february <= 28 * 3_400_000  # February 2026 has 28 days
    # 1 and 2 March whole, and 3 March until 10:00 (the first shift and two hours)
    assert 2 * 2_200_000 <= march <= 3 * 3_400_000
    # exact to the kilogram: the center holds what the station measured
    assert february + march == station.produced_kg
    # a few overproduction days, most alarms handled, a few left to acknowledge
    assert len([a for a in alarms if a["state"] == "active"]) <= run.WAITING_ALARMS
    assert all(a["state"] == "closed" for a in alarms if a["start"] < "2026-02-20")

    text = run.credentials_text(demo, "http://127.0.0.1:8000", now)
    assert "from=2026-02-01T00:00:00%2B08:00&to=2026-03-01T00:00:00%2B08:00" in text
