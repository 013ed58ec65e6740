"""Telemetry of third-party gateways over MQTT 网关数据: the center subscribes to the
gateways' topics and turns each JSON message into readings of a mine's points, by a
mapping an integrator writes (TOML, ``COALWATCH_MQTT_GATEWAYS_FILE``), no code:

```toml
[[gateways]]
topic = "plant/+/telemetry"      # an MQTT subscription (wildcards allowed)
mine = "M1"                      # the mine the readings belong to
kind = "totalizer"               # totalizer (t) | trip (net t) | conveyor (running)
point = "$.device"               # JSON path to the point code ...
# point_code = "B1"              # ... or one point for every message of the topic
value = "$.data.total_t"         # JSON path to the value
time = "$.ts"                    # JSON path to an ISO 8601 time with offset (default:
                                 # when the center received the message)
flow = "$.data.flow_tph"         # optional: a belt scale's flow (t/h)
[gateways.points]                # optional: the gateway's names → the mine's point codes
"dev-17" = "B1"
```

JSON paths are ``$`` followed by ``.name`` and ``[index]`` steps. The readings go
through the mine's virtual station (``virtual.py``): the same checks, quarantine and
alarms as a station's records; a message that does not match its mapping is counted
and logged, never half-taken.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.errors import CoalwatchError, Invalid
from coalwatch.exchange import repository
from coalwatch.exchange.mqtt import BrokerAddress
from coalwatch.exchange.virtual import account, refuse_own_stations
from coalwatch.ingest.service import IngestLimits
from coalwatch.storage.session import transaction

log = logging.getLogger("coalwatch.exchange.gateway")

KINDS = ("totalizer", "trip", "conveyor")
_STEP = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]")


def json_path(document: Any, path: str) -> Any:
    """The value at ``path`` ($.a.b[0].c) in ``document``; KeyError when there is none."""
    if not path.startswith("$"):
        raise Invalid(f"JSON path {path!r} must start with $")
    rest, value = path[1:], document
    while rest:
        step = _STEP.match(rest)
        if step is None:
            raise Invalid(f"JSON path {path!r}: cannot read {rest!r}")
        name, index = step.groups()
        try:
            value = value[int(index)] if index is not None else value[name]
        except (KeyError, IndexError, TypeError):
            raise KeyError(path) from None
        rest = rest[step.end() :]
    return value


@dataclass(frozen=True)
class Mapping:
    topic: str
    mine: str
    kind: str
    value: str
    point: str | None = None
    point_code: str | None = None
    time: str | None = None
    flow: str | None = None
    points: dict[str, str] = field(default_factory=dict)

    def matches(self, topic: str) -> bool:
        return bool(mqtt.topic_matches_sub(self.topic, topic))

    def reading(self, document: Any, received: datetime) -> dict[str, Any]:
        """The station record (without seq) a message makes; Invalid saying what is wrong."""
        try:
            raw_point = self.point_code or str(json_path(document, self.point or "$"))
            value = json_path(document, self.value)
            ts = received if self.time is None else _time(json_path(document, self.time))
            flow = None if self.flow is None else json_path(document, self.flow)
        except KeyError as missing:
            raise Invalid(f"the message has nothing at {missing.args[0]}") from None
        point = self.points.get(raw_point, raw_point)
        record: dict[str, Any] = {"ts": ts, "type": self.kind, "point": point}
        if self.kind == "conveyor":
            if not isinstance(value, bool):
                raise Invalid(f"{self.value} is {value!r}, not true or false")
            record["running"] = value
        else:
            record["total_t" if self.kind == "totalizer" else "net_t"] = _number(value, self.value)
            if flow is not None and self.kind == "totalizer":
                record["flow_tph"] = _number(flow, str(self.flow))
        return record


def _number(value: Any, path: str) -> Decimal:
    if isinstance(value, bool):
        raise Invalid(f"{path} is {value!r}, not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Invalid(f"{path} is {value!r}, not a number") from None
    if not number.is_finite():
        raise Invalid(f"{path} is {value!r}, not a number")
    return number


def _time(value: Any) -> datetime:
    try:
        ts = datetime.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{value!r} is not an ISO 8601 time") from None
    if ts.tzinfo is None:
        raise Invalid(f"{value!r} has no offset")
    return ts


def load_mappings(path: Path) -> list[Mapping]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"the gateway mapping {path} cannot be read: {exc}") from None
    mappings = []
    for n, entry in enumerate(data.get("gateways", []), start=1):
        where = f"{path}: gateway {n}"
        known = set(Mapping.__dataclass_fields__)
        unknown = sorted(set(entry) - known)
        missing = sorted({"topic", "mine", "kind", "value"} - set(entry))
        if unknown or missing:
            raise Invalid(f"{where}: unknown keys {unknown}, missing keys {missing}")
        mapping = Mapping(**entry)
        if mapping.kind not in KINDS:
            raise Invalid(f"{where}: kind must be one of {', '.join(KINDS)}")
        if (mapping.point is None) == (mapping.point_code is None):
            raise Invalid(f"{where}: give point (a JSON path) or point_code, one of them")
        for path_ in (mapping.point, mapping.value, mapping.time, mapping.flow):
            if path_ is not None and not path_.startswith("$"):
                raise Invalid(f"{where}: JSON path {path_!r} must start with $")
        mappings.append(mapping)
    if not mappings:
        raise Invalid(f"the gateway mapping {path} has no [[gateways]]")
    return mappings


@dataclass
class Counts:
    taken: int = 0
    refused: int = 0
    last_error: str | None = None


class GatewayIngest:
    """Subscribes to every mapped topic and accounts each message."""

    def __init__(
        self,
        url: str,
        mappings: list[Mapping],
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        limits: IngestLimits,
    ) -> None:
        self.address = BrokerAddress.from_url(url)
        self.mappings, self.sessions, self.clock, self.limits = mappings, sessions, clock, limits
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if self.address.tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.counts = Counts()

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("the MQTT broker refused the gateway subscriber: %s", reason)
            return
        for topic in sorted({m.topic for m in self.mappings}):
            client.subscribe(topic, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.take(message.topic, bytes(message.payload))

    def take(self, topic: str, payload: bytes) -> int:
        """Account one message of ``topic``: the readings taken."""
        now = self.clock()
        taken = 0
        for mapping in (m for m in self.mappings if m.matches(topic)):
            try:
                document = json.loads(payload)
                record = mapping.reading(document, now)
                with transaction(self.sessions) as session:
                    mine = repository.mine_by_code(session, mapping.mine)
                    if mine is None:
                        raise Invalid(f"mine {mapping.mine!r} is not registered here")
                    refuse_own_stations(session, mine)
                    taken += account(session, mine, [record], now, self.limits)
            except (ValueError, CoalwatchError) as exc:
                reason = getattr(exc, "message", None) or str(exc)
                self.counts.refused += 1
                if reason != self.counts.last_error:  # once per reason, not per message
                    log.warning("gateway message on %s not taken: %s", topic, reason)
                self.counts.last_error = reason
        self.counts.taken += taken
        return taken


def gateways_from_settings(
    settings: Any, sessions: sessionmaker[Session], clock: Callable[[], datetime]
) -> GatewayIngest | None:
    if not settings.mqtt_broker or settings.mqtt_gateways_file is None:
        return None
    limits = IngestLimits.of(settings)
    mappings = load_mappings(settings.mqtt_gateways_file)
    return GatewayIngest(settings.mqtt_broker, mappings, sessions, clock, limits)
