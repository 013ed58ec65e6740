"""The demo's console as a user sees it: a PDF report adds no font-library chatter, and
Ctrl-C stops the stations before the center, so none of them logs a refused upload."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn

from coalwatch.demo.run import _Server

COALWATCH = Path(sys.executable).with_name("coalwatch")


class _Lines:
    """Everything a stream printed so far, read on a thread so the pipe never fills."""

    def __init__(self, stream: IO[str]) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.text += line

    def join(self) -> str:
        self._thread.join(timeout=10)
        return self.text


@pytest.mark.timeout(120)
def test_demo_console_stays_quiet_for_a_pdf_and_stations_stop_first(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALWATCH_")}
    process = subprocess.Popen(
        [str(COALWATCH), "demo", "--port", "0", "--mines", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = _Lines(process.stdout), _Lines(process.stderr)
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C" not in out.text:
            assert process.poll() is None, f"the demo exited early: {err.text}"
            assert time.monotonic() < deadline, f"no URL printed: {out.text!r}"
            time.sleep(0.2)
        url = re.search(r"(http://127\.0\.0\.1:\d+)/\s", out.text)
        token = re.search(r"TOKEN=(cw_\S+)", out.text)
        assert url and token, out.text
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        with httpx.Client(base_url=url.group(1), trust_env=False, timeout=60) as client:
            pdf = client.get(
                f"/api/v1/mines/XY001/reports/daily/{today}",
                params={"format": "pdf"},
                headers={"Authorization": f"Bearer {token.group(1)}"},
            )
        assert pdf.status_code == 200, pdf.text
        assert pdf.content.startswith(b"%PDF")
        # the stations have uploaded at least once since the demo began serving
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    logged = err.join()
    out.join()
    noisy = [line for line in logged.splitlines() if re.search(r"weasyprint|fontTools", line, re.I)]
    station_logs = sorted((tmp_path / "var" / "stations").glob("*.log"))
    assert station_logs
    failed_uploads = [
        f"{log.name}: {line}"
        for log in station_logs
        for line in log.read_text(encoding="utf-8").splitlines()
        if "refused" in line or "upload to" in line
    ]
    assert (noisy, failed_uploads) == ([], []), "\n".join(noisy + failed_uploads)


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest ASGI app: 200 to every request."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_the_demo_server_stops_the_stations_while_it_still_answers() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    answers: list[int] = []

    def stop_stations() -> None:
        # what a station's last upload meets while it is being stopped
        with httpx.Client(trust_env=False, timeout=10) as client:
            answers.append(client.get(f"http://127.0.0.1:{port}/").status_code)

    stop = threading.Event()
    server = _Server(
        uvicorn.Config(_hello, lifespan="off", log_level="warning"), stop, stop_stations
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        stop.set()  # as Ctrl-C does
        thread.join(timeout=30)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
    assert answers == [200]
