"""Third-party gateways' telemetry over MQTT (the real broker on 127.0.0.1:1883): a JSON
message mapped to a point and a value by a mapping file, accounted through the mine's
virtual station; a message that does not fit is refused with the reason."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from coalwatch.errors import Invalid
from coalwatch.exchange.gateway import GatewayIngest, json_path, load_mappings
from coalwatch.ingest.service import IngestLimits
from tests.e2e.harness import wait_for
from tests.exchange.conftest import NOW, at
from tests.exchange.test_files_out import sessions_of
from tests.support.world import World, world

BROKER = "mqtt://127.0.0.1:1883"


def test_json_paths() -> None:
    document = {"a": {"b": [{"c": 1.5}, {"c": 2}]}, "x-y": True}
    assert json_path(document, "$.a.b[1].c") == 2
    assert json_path(document, "$.x-y") is True
    assert json_path(document, "$") == document
    with pytest.raises(KeyError):
        json_path(document, "$.a.z")
    with pytest.raises(Invalid, match="must start with"):
        json_path(document, "a.b")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('topic = "t"\nmine = "M"\nkind = "weight"\nvalue = "$.v"\npoint_code = "B"', "kind must"),
        ('topic = "t"\nmine = "M"\nkind = "trip"\nvalue = "$.v"', "give point"),
        (
            'topic = "t"\nmine = "M"\nkind = "trip"\nvalue = "v"\npoint_code = "B"',
            "must start with",
        ),
        ('topic = "t"\nmine = "M"\nkind = "trip"\nvalue = "$.v"\ncolour = "red"', "colour"),
    ],
)
def test_a_bad_mapping_says_what_is_wrong(tmp_path: Path, entry: str, reason: str) -> None:
    path = tmp_path / "gateways.toml"
    path.write_text(f"[[gateways]]\n{entry}\n")
    with pytest.raises(Invalid, match=reason):
        load_mappings(path)


@pytest.fixture
def plant(database_url: str, tmp_path: Path) -> Iterator[tuple[World, GatewayIngest, str]]:
    prefix = f"cwtest-{secrets.token_hex(4)}"
    mapping = tmp_path / "gateways.toml"
    mapping.write_text(
        f"""
[[gateways]]
topic = "{prefix}/plant/+/telemetry"
mine = "G1"
kind = "totalizer"
point = "$.device"
value = "$.data.total_t"
time = "$.ts"
flow = "$.data.flow_tph"
[gateways.points]
"dev-17" = "B1"
""",
        encoding="utf-8",
    )
    with world(database_url, now=NOW) as w:
        w.mine("G1", belts=("B1",), station=None)
        limits = IngestLimits(clock_skew=timedelta(seconds=60), max_records=5000)
        ingest = GatewayIngest(BROKER, load_mappings(mapping), sessions_of(w), w.clock, limits)
        ingest.start()
        wait_for(lambda: ingest.client.is_connected() or None, 10, "the subscriber")
        try:
            yield w, ingest, prefix
        finally:
            ingest.stop()


def publish(topic: str, messages: list[bytes]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        for payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_gateway_telemetry_becomes_readings(plant: tuple[World, GatewayIngest, str]) -> None:
    w, ingest, prefix = plant
    topic = f"{prefix}/plant/line-1/telemetry"

    def message(total: str, minute: int) -> bytes:
        ts = at(11, minute).isoformat()
        return json.dumps(
            {"device": "dev-17", "ts": ts, "data": {"total_t": total, "flow_tph": 620.5}}
        ).encode()

    # subscribed only once connected: wait for the subscription to hold
    wait_for(
        lambda: (publish(topic, [message("500.000", 10)]), ingest.counts.taken)[1] or None,
        10,
        "the first reading",
        every=0.5,
    )
    publish(topic, [message("500.750", 20), b'{"device": "dev-17", "ts": "x", "data": {}}'])
    wait_for(lambda: ingest.counts.refused or None, 10, "the bad message")
    assert ingest.counts.taken >= 2
    assert "nothing at $.data.total_t" in str(ingest.counts.last_error)
    records = w.ok(w.get("/mines/G1/records"))["items"]
    totals = [r for r in records if r["type"] == "totalizer"]
    assert {r["station"] for r in totals} == {"G1.virtual"}
    # 500.000 t at 11:10 (the first reading), 500.750 t at 11:20: 0.750 t in the hour
    figures = w.ok(w.get("/mines/G1/summary", at=at(11, 31).isoformat()))
    assert D(str(figures["hour"]["gross_t"])) == D("0.750")
