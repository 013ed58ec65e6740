"""The outbox 本地存储: numbering, durability, acknowledgement, state with its records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from coalwatch.station.outbox import Outbox


def rec(n: int, **fields: object) -> dict[str, object]:
    return {"ts": f"2026-03-15T04:00:{n % 60:02d}+00:00", "type": "heartbeat", **fields}


def test_records_get_consecutive_seqs_that_survive_a_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert box.append([rec(1), rec(2)]) == [1, 2]
    assert box.append([rec(3)]) == [3]
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert box.last_seq == 3
    assert box.append([rec(4)]) == [4]
    assert [r["seq"] for r in box.pending(10)] == [1, 2, 3, 4]
    box.close()


def test_outbox_is_wal_with_full_sync(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    db = box._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()


def test_decimal_tonnes_come_back_exact(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([{"ts": "t", "type": "totalizer", "point": "B1", "total_t": Decimal("4294967.295")}])
    assert box.pending(1)[0]["total_t"] == Decimal("4294967.295")
    box.close()


def test_state_is_written_with_the_records_and_none_deletes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([rec(1)], {"device:K1:0": {"trip_counter": 7}, "other": 1})
    assert box.states("device:") == {"device:K1:0": {"trip_counter": 7}}
    box.set_state({"other": None})
    assert box.state("other") is None
    box.close()


def test_acknowledge_deletes_up_to_acked_except_gaps(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([rec(i) for i in range(1, 11)])
    # the center holds 1..8 except 3..4 and 6; 9 and 10 are not acknowledged
    assert box.acknowledge(8, [(3, 4), (6, 6)]) == 5
    assert [r["seq"] for r in box.pending(100)] == [3, 4, 6, 9, 10]
    assert box.stats().acked_seq == 8
    # the gap records come first in the next batch
    assert [r["seq"] for r in box.pending(2)] == [3, 4]
    box.close()


def test_acknowledge_never_lowers_the_acked_seq_it_shows(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([rec(i) for i in range(1, 4)])
    box.acknowledge(3, [])
    box.acknowledge(1, [])
    assert box.stats().acked_seq == 3
    box.close()


def test_renumber_after_moves_held_records_above_the_centers_seq(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([rec(i) for i in range(1, 6)])
    box.acknowledge(2, [(2, 2)])  # holds 2, 3, 4, 5
    assert box.renumber_after(100) == 4
    assert [r["seq"] for r in box.pending(10)] == [101, 102, 103, 104]
    assert box.append([rec(9)]) == [105]
    box.close()


def test_stats_show_size_age_last_and_acked(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([rec(5), rec(6)])
    stats = box.stats()
    assert (stats.records, stats.last_seq, stats.acked_seq) == (2, 2, 0)
    assert stats.oldest_ts is not None and stats.oldest_ts.second == 5
    assert stats.file_bytes > 0
    box.close()


WRITER = """
import sys
from coalwatch.station.outbox import Outbox
box = Outbox(__import__("pathlib").Path(sys.argv[1]))
n = box.state("counter") or 0
print("ready", flush=True)
while True:
    n += 1
    # a trip counter and the trip it explains: both or neither
    box.append([{"ts": "t", "type": "trip", "point": "K1", "n": n}], {"counter": n})
"""


def test_sigkill_at_any_instant_keeps_records_and_state_together(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.2 + 0.1 * round_)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        box = Outbox(path)
        records = box.pending(1_000_000)
        counter = box.state("counter")
        assert counter == len(records) == box.last_seq
        assert [r["n"] for r in records] == list(range(1, counter + 1))
        assert [r["seq"] for r in records] == list(range(1, counter + 1))
        box.close()
