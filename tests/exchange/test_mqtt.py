"""Station batches over MQTT through the real Mosquitto broker on 127.0.0.1:1883: the same
signatures, answers and duplicates as over HTTP; a station process killed and restarted
mid-stream loses and doubles nothing. Each test has topics of its own."""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from coalwatch.exchange.mqtt import MqttIngest
from coalwatch.ingest.service import IngestLimits
from coalwatch.sim import SimSet
from coalwatch.station.mqtt_uploader import MqttTransport
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import SIGNATURE_HEADER, sign
from tests.e2e.harness import Center, Station, register, register_station, wait_for
from tests.e2e.test_station_e2e import Rig, belt
from tests.exchange.conftest import at
from tests.exchange.test_files_out import sessions_of
from tests.support.world import World, totalizer

BROKER = "mqtt://127.0.0.1:1883"


@pytest.fixture
def prefix() -> str:
    return f"cwtest-{secrets.token_hex(4)}"


@pytest.fixture
def bridge(mine: World, prefix: str) -> Iterator[MqttIngest]:
    limits = IngestLimits(clock_skew=timedelta(seconds=60), max_records=5000)
    ingest = MqttIngest(BROKER, prefix, sessions_of(mine), mine.clock, limits)
    ingest.start()
    wait_for(lambda: ingest.client.is_connected() or None, 10, "the center at the broker")
    yield ingest
    ingest.stop()


def test_a_batch_over_mqtt_is_answered_like_http(
    mine: World, bridge: MqttIngest, prefix: str
) -> None:
    station = mine.stations["S1"]
    transport = MqttTransport(BROKER, "S1", prefix, timeout_s=10)
    try:
        # B1 at 11:31: 101.250 → 101.750 t, +500 kg in the hour from 11:00
        body = encode_batch("S1", mine.clock(), [totalizer(7, at(11, 31), "B1", "101.750")])
        headers = {SIGNATURE_HEADER: sign(station.key, body)}
        status, answer = transport.post("", body, headers)
        assert status == 200, answer
        assert b'"acked_seq":7' in answer and b'"duplicates":0' in answer
        status, answer = transport.post("", body, headers)  # sent again: counted once
        assert status == 200 and b'"duplicates":1' in answer
        status, answer = transport.post("", body, {SIGNATURE_HEADER: sign(station.key, b"x")})
        assert status == 401 and b"signature" in answer
    finally:
        transport.close()
    figures = mine.ok(mine.get("/mines/M1/summary", at=at(11, 32).isoformat()))
    # 1.250 + 0.500 t from B1, 16.000 t of trips: 17.750 t gross
    assert D(str(figures["hour"]["gross_t"])) == D("17.750")


def test_no_broker_no_answer_is_an_oserror() -> None:
    transport = MqttTransport("mqtt://127.0.0.1:9", "S1", "x", timeout_s=2)
    with pytest.raises(OSError):
        transport.post("", b"{}", {SIGNATURE_HEADER: "x"})


@pytest.fixture
def mqtt_center(tmp_path: Path, prefix: str, sqlite_template: Path) -> Iterator[Center]:
    center = Center(tmp_path / "center")
    center.directory.mkdir()
    center.env.update(COALWATCH_MQTT_BROKER=BROKER, COALWATCH_MQTT_TOPIC_PREFIX=prefix)
    center.prepare(sqlite_template)
    center.start()
    yield center
    center.stop()


@pytest.mark.timeout(120)
def test_a_station_killed_mid_stream_over_mqtt_counts_every_record_once(
    mqtt_center: Center, tmp_path: Path, prefix: str
) -> None:
    sims = SimSet(belts=[belt(f"B{i}", 20 + i) for i in range(1, 5)])
    sims.start()
    sims.freeze()
    station = Station(
        "S-MQ",
        "MQ",
        tmp_path,
        sims,
        [mqtt_center.url],
        settings={
            "transport": "mqtt",
            "mqtt_broker": BROKER,
            "mqtt_topic_prefix": prefix,
            "batch_size": 20,
            "retry_first_s": 0.2,
            "retry_max_s": 1.0,
            "heartbeat_s": 5,
            "request_timeout_s": 5,
        },
        poll_interval_s=0.2,
    )
    codes = [f"B{i}" for i in range(1, 5)]
    rig = Rig(
        mqtt_center,
        "MQ",
        sims,
        station,
        codes,
        [],
        {b: sims.state(b)["produced_kg"] for b in codes},
        {},
    )
    try:
        # not registered yet: the center answers 401 over MQTT, the outbox fills
        register(mqtt_center, "MQ", station.code, None, codes, [])
        station.make_key()
        station.start()
        rig.wait_first_poll()
        sims.unfreeze()
        peak = wait_for(
            lambda: (n := station.outbox_count()) >= 150 and n,
            40,
            f"150 records in the outbox\n{station.log_tail()}",
        )
        assert mqtt_center.records("MQ") == []
        register_station(mqtt_center, "MQ", station.code, station.public_key)
        wait_for(
            lambda: station.outbox_count() <= peak - 40,
            30,
            f"the upload over MQTT to start\n{station.log_tail()}",
            every=0.01,
        )
        station.stop(signal.SIGKILL)
        assert station.outbox_count() >= 20, "the kill came after the upload ended"
        station.start()
        rig.settle(timeout=40)
        rig.assert_exact()
        assert station.stop() == 0
        at_center = [r["seq"] for r in mqtt_center.records("MQ")]
        assert len(at_center) == len(set(at_center)), "a record was stored twice"
        waiting = station.outbox_seqs()
        assert set(at_center) | set(waiting) == set(range(1, station.last_seq() + 1))
    finally:
        station.stop()
        sims.stop()
        print(station.log_tail(6000))


def test_batches_over_mqtt_wait_for_their_commit_together(mine: World, prefix: str) -> None:
    """The center's MQTT client hands each batch to the group commit and goes on taking
    messages: batches that arrive while a commit is under way are committed together,
    each answered after its commit; meanwhile they count as uploads waiting (a backlog
    is not the stations' silence)."""
    from coalwatch.horizon.service import Arrivals
    from coalwatch.ingest.committer import Committer
    from tests.ingest.test_group_commit import held_commits

    factory, committing, release = held_commits(sessions_of(mine), "before_commit")
    committer = Committer(factory, None, mine.clock, wait_s=0.0, max_batches=32)
    arrivals = Arrivals()
    limits = IngestLimits(clock_skew=timedelta(seconds=60), max_records=5000)
    ingest = MqttIngest(
        BROKER, prefix, factory, mine.clock, limits, committer=committer, arrivals=arrivals
    )
    ingest.start()
    wait_for(lambda: ingest.client.is_connected() or None, 10, "the center at the broker")
    station = mine.stations["S1"]
    answers: dict[int, tuple[int, bytes]] = {}

    def post(seq: int) -> None:
        transport = MqttTransport(BROKER, "S1", prefix, timeout_s=30)
        try:
            body = encode_batch(
                "S1", mine.clock(), [totalizer(seq, at(11, 31, seq), "B1", f"101.{seq}00")]
            )
            answers[seq] = transport.post("", body, {SIGNATURE_HEADER: sign(station.key, body)})
        finally:
            transport.close()

    try:
        first = threading.Thread(target=post, args=(7,))
        first.start()
        assert committing.wait(30)  # seq 7's commit is under way
        later = [threading.Thread(target=post, args=(seq,)) for seq in (8, 9)]
        for waiting, thread in enumerate(later, start=2):
            thread.start()  # in order: seq 8 is taken before seq 9 is sent
            wait_for(lambda n=waiting: len(arrivals) >= n or None, 10, "the batch taken")
        release.set()
        for thread in (first, *later):
            thread.join(30)
    finally:
        release.set()
        ingest.stop()
        committer.stop()
    assert {seq: status for seq, (status, _) in answers.items()} == {7: 200, 8: 200, 9: 200}
    assert b'"acked_seq":9' in answers[9][1] and b'"rejected":[]' in answers[9][1]
    assert (committer.groups, committer.batches) == (2, 3)  # 7 alone, then 8 and 9
    assert arrivals.oldest() is None
