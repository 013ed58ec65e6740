"""The station's uploads over MQTT (``transport = "mqtt"``): a ``Transport`` for the
uploader that publishes each signed batch (QoS 1) on ``<prefix>/stations/<code>/batches``
and waits for the center's answer on ``<prefix>/stations/<code>/answers``.

The uploader is the same as over HTTP: records leave the outbox only when an answer with
status 200 says the center holds them. A broker that is away, a batch or an answer lost,
a center that does not answer within the timeout: the transport raises ``OSError``, the
uploader backs off and sends again, and the center counts a re-sent record once.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from coalwatch.station.config import ConfigError
from coalwatch.wire.mqtt import (
    SIGNATURE_PROPERTY,
    STATUS_PROPERTY,
    answer_topic,
    batch_topic,
    broker_address,
)
from coalwatch.wire.signing import SIGNATURE_HEADER


class MqttTransport:
    """One connection to the broker, opened at the first batch and again after a loss."""

    def __init__(self, broker: str, station: str, prefix: str, timeout_s: float) -> None:
        try:
            self.host, self.port, self.tls = broker_address(broker)
        except ValueError as exc:
            raise ConfigError(f"mqtt_broker: {exc}") from None
        self.station, self.timeout_s = station, timeout_s
        self.batches = batch_topic(prefix, station)
        self.answers = answer_topic(prefix, station)
        self._client: mqtt.Client | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._waiting: dict[bytes, tuple[threading.Event, list[tuple[int, bytes]]]] = {}

    def _connect(self) -> mqtt.Client:
        if self._client is not None and self._ready.is_set() and self._client.is_connected():
            return self._client
        self.close()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"coalwatch-station-{self.station}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if self.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self._ready.set()
        client.on_message = self._on_message
        client.on_disconnect = lambda *_: self._ready.clear()
        self._ready.clear()
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise OSError(f"MQTT broker {self.host}:{self.port}: {exc}") from exc
        client.loop_start()
        self._client = client
        if not self._ready.wait(self.timeout_s):
            self.close()
            raise OSError(f"MQTT broker {self.host}:{self.port} did not take the subscription")
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self.answers, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        properties = message.properties
        correlation = getattr(properties, "CorrelationData", None)
        status = 0
        for key, value in getattr(properties, "UserProperty", None) or []:
            if key == STATUS_PROPERTY and str(value).isdigit():
                status = int(value)
        with self._lock:
            waiting = self._waiting.get(bytes(correlation or b""))
        if waiting is not None:  # an answer to a batch given up on is dropped
            waiting[1].append((status, bytes(message.payload)))
            waiting[0].set()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Publish the batch; the center's (status, body), or OSError without one."""
        client = self._connect()
        correlation = uuid.uuid4().bytes
        done = threading.Event()
        answer: list[tuple[int, bytes]] = []
        with self._lock:
            self._waiting[correlation] = (done, answer)
        try:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.ResponseTopic = self.answers
            properties.CorrelationData = correlation
            properties.UserProperty = [(SIGNATURE_PROPERTY, headers[SIGNATURE_HEADER])]
            properties.ContentType = "application/json"
            info = client.publish(self.batches, body, qos=1, properties=properties)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise OSError(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
            if not done.wait(self.timeout_s):
                raise OSError(f"no answer from the center on {self.answers}")
            return answer[0]
        finally:
            with self._lock:
                self._waiting.pop(correlation, None)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
