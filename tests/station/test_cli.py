"""``coalwatch station keygen | status | run`` from the command line."""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coalwatch.cli import main
from coalwatch.station.cli import status_lines
from coalwatch.station.outbox import Outbox
from coalwatch.wire.signing import load_private_key_pem, parse_public_key, public_key_b64


def test_keygen_writes_a_private_key_0600_and_prints_the_public_key_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "station.key"
    assert main(["station", "keygen", "--key-file", str(path)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    parse_public_key(last)  # base64 of 32 raw bytes
    assert public_key_b64(load_private_key_pem(path.read_bytes())) == last
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keygen_refuses_to_overwrite_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "station.key"
    path.write_text("the key the center knows")
    with pytest.raises(SystemExit) as exit_:
        main(["station", "keygen", "--key-file", str(path)])
    assert exit_.value.code == 1
    assert "exists; not overwritten" in capsys.readouterr().err
    assert path.read_text() == "the key the center knows"


CONFIG = """
[station]
code = "S1"
key_file = "station.key"
centers = ["http://127.0.0.1:9"]
outbox = "var/outbox.db"

[buses.line]
kind = "tcp"
host = "127.0.0.1"
port = 5020

[[points]]
code = "B1"
kind = "belt"
[[points.devices]]
bus = "line"
map = "bw500"
"""


def test_status_shows_the_outbox_size_age_last_seq_and_last_acked(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text(CONFIG)
    assert status_lines(path)[-1] == "no outbox yet: the station has not run"
    box = Outbox(tmp_path / "var" / "outbox.db")
    ts = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
    box.append([{"ts": ts.isoformat(), "type": "heartbeat"}] * 5)
    box.acknowledge(2, [])
    box.close()
    lines = status_lines(path, now=ts + timedelta(seconds=90))
    assert lines[2].startswith("records waiting: 3 (")
    assert lines[3] == "oldest unsent record: 2026-03-15T04:00:00+00:00 (90 s)"
    assert lines[4:] == ["last seq: 5", "last acked: 2", "poll interval: 5 s"]


def test_run_with_a_bad_config_says_where_and_why(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text(CONFIG.replace('kind = "belt"', 'kind = "belt"\nspeed = 3'))
    result = subprocess.run(
        [sys.executable, "-m", "coalwatch.cli", "station", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "points.0.speed: Extra inputs are not permitted" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_a_key_says_so(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text(CONFIG)
    result = subprocess.run(
        [sys.executable, "-m", "coalwatch.cli", "station", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "cannot read the station key" in result.stderr
    assert "Traceback" not in result.stderr
