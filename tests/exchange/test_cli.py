"""``coalwatch exchange``: write, push and ledger by hand; clear errors, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from coalwatch.cli import main
from tests.exchange.conftest import FtpServer, populate
from tests.support.world import world


def test_write_push_and_ledger(
    sqlite_url: str,
    tmp_path: Path,
    ftp_server: FtpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with world(sqlite_url) as w:
        populate(w)
    out = tmp_path / "out"
    monkeypatch.setenv("COALWATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COALWATCH_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("COALWATCH_SECRET_KEY", "k")
    assert main(["exchange", "write"]) == 1  # no directory configured
    assert "COALWATCH_EXCHANGE_DIR is not set" in capsys.readouterr().err

    monkeypatch.setenv("COALWATCH_EXCHANGE_DIR", str(out))
    monkeypatch.setenv("COALWATCH_EXCHANGE_FTP_URL", ftp_server.url)
    monkeypatch.setenv("COALWATCH_EXCHANGE_FTP_RETRIES", "1")
    # the server is down: written, queued, exit 1 saying so
    assert main(["exchange", "write"]) == 1
    captured = capsys.readouterr()
    assert "5 file(s) written" in captured.out
    assert "the other files stay queued" in captured.err and "Traceback" not in captured.err
    assert main(["exchange", "ledger", "--pending"]) == 0
    assert capsys.readouterr().out.count("\tqueued\t") == 5

    ftp_server.start()
    assert main(["exchange", "push"]) == 0
    assert "5 file(s) sent" in capsys.readouterr().out
    assert len(ftp_server.received()) == 5
    assert main(["exchange", "ledger", "--pending"]) == 0
    assert capsys.readouterr().out == ""


def test_import_needs_a_directory(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COALWATCH_SECRET_KEY", "k")
    assert main(["exchange", "import"]) == 1
    assert "COALWATCH_EXCHANGE_IMPORT_DIR" in capsys.readouterr().err
    assert main(["exchange", "import", "--dir", str(tmp_path / "nowhere")]) == 1
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "M1_XXXX_20260315110000.txt").write_text("M1;m;t;1;0~\n")
    assert main(["exchange", "import", "--dir", str(tmp_path / "in")]) == 1
    captured = capsys.readouterr()
    assert "refused M1_XXXX_20260315110000.txt: unknown file kind 'XXXX'" in captured.out
    assert "1 file(s) refused" in captured.err


def test_serve_refuses_a_bad_layout_or_gateway_mapping(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COALWATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COALWATCH_SECRET_KEY", "k")
    monkeypatch.setenv("COALWATCH_EXCHANGE_DIR", str(tmp_path / "out"))
    layout = tmp_path / "layout.toml"
    layout.write_text('version = "1"\n')
    monkeypatch.setenv("COALWATCH_EXCHANGE_LAYOUT_FILE", str(layout))
    assert main(["serve", "--port", "1"]) == 1
    assert "is not valid" in capsys.readouterr().err
    monkeypatch.delenv("COALWATCH_EXCHANGE_LAYOUT_FILE")
    gateways = tmp_path / "gateways.toml"
    gateways.write_text("[[gateways]]\ntopic = 'x'\n")
    monkeypatch.setenv("COALWATCH_MQTT_BROKER", "mqtt://127.0.0.1:1883")
    monkeypatch.setenv("COALWATCH_MQTT_GATEWAYS_FILE", str(gateways))
    assert main(["serve", "--port", "1"]) == 1
    assert "gateway 1" in capsys.readouterr().err
