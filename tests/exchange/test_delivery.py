"""Delivery over FTP to a real server (pyftpdlib on loopback): an outage loses nothing,
and the ledger shows each file with the server's answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from coalwatch.config import Settings
from coalwatch.errors import Invalid
from coalwatch.exchange import repository
from coalwatch.exchange.delivery import FtpTarget
from coalwatch.exchange.service import ExchangeJob
from tests.exchange.conftest import FtpServer, at
from tests.exchange.test_files_out import sessions_of
from tests.support.world import World


def job(w: World, out: Path, server: FtpServer) -> ExchangeJob:
    settings = Settings(
        database_url=w.url,
        exchange_dir=out,
        exchange_ftp_url=server.url,
        exchange_ftp_retries=2,
        exchange_ftp_timeout_s=5,
    )
    return ExchangeJob(settings, pause_s=0)


def test_an_outage_loses_no_file(mine: World, tmp_path: Path, ftp_server: FtpServer) -> None:
    out = tmp_path / "out"
    exchange = job(mine, out, ftp_server)
    sessions = sessions_of(mine)

    # the server is down: the five files are written and stay queued
    pushed = exchange(sessions, mine.clock())
    assert pushed is not None and pushed.sent == 0 and pushed.error
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 5
    with sessions() as session:
        queued = repository.pending(session, 100)
        assert sorted(f.name for f in queued) == written
        assert queued[0].attempts == 2 and queued[0].last_error  # two tries this round

    # still down 30 s later: one more real-time file joins the queue
    mine.clock.now = at(11, 31, 30)
    assert exchange(sessions, mine.clock()).sent == 0  # type: ignore[union-attr]
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 6

    # up again: every file arrives whole, each in the ledger with the server's answer
    ftp_server.start()
    mine.clock.now = at(11, 31, 40)
    pushed = exchange(sessions, mine.clock())
    assert pushed is not None and pushed.sent == 6 and pushed.error is None
    received = ftp_server.received()
    assert sorted(received) == written
    assert all(received[name] == (out / name).read_bytes() for name in written)
    with sessions() as session:
        ledger = repository.ledger(session)
        assert repository.pending(session, 100) == []
        assert [f.sent_at for f in ledger] == [at(11, 31, 40)] * 6
        # 226: transfer complete; 250: renamed to the file's name
        assert all(f.server_ack and "226" in f.server_ack and "250" in f.server_ack for f in ledger)

    # a file written later goes on the next round
    mine.clock.now = at(11, 32, 0)
    pushed = exchange(sessions, mine.clock())
    assert pushed is not None and pushed.sent == 1  # real-time 11:32:00 (cumulative: hourly)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x", "ftp:///nohost", "ftp://127.0.0.1:99999/x"],
)
def test_a_bad_server_url_is_refused(url: str) -> None:
    with pytest.raises(Invalid, match="ftp"):
        FtpTarget.from_url(url)


def test_the_url_gives_user_password_and_directory() -> None:
    target = FtpTarget.from_url("ftps://prov%40ince:p%3Ass@127.0.0.1:2121/in/coal")
    assert (target.user, target.password, target.directory, target.tls, target.port) == (
        "prov@ince",
        "p:ss",
        "/in/coal",
        True,
        2121,
    )
    assert "p:ss" not in str(target)
