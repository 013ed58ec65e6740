"""Station uploads over MQTT: the same signed batches as ``POST /api/v1/stations/{s}/batches``,
through a broker (Mosquitto), for mines whose network reaches the center only that way.

A station publishes its batch (QoS 1) on ``<prefix>/stations/<code>/batches`` with MQTT 5
properties: the signature (user property ``signature``), a response topic and a
correlation id. The center ingests it with the very service the HTTP route uses (one
transaction, the same checks and acknowledgements) and publishes the answer (QoS 1) on the
response topic: user property ``status`` (200, or the HTTP status of the error) and the
JSON body HTTP would have sent. The station deletes records only on a 200 answer, so a
message lost anywhere is sent again and counted once (the center keeps seqs).

Several center processes share the subscription (``$share/...``): each batch goes to one.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.errors import CoalwatchError, Invalid
from coalwatch.events.broker import Broker, attach
from coalwatch.horizon.service import Arrivals
from coalwatch.ingest.committer import Committer, Upload
from coalwatch.ingest.service import IngestLimits, ingest_batch
from coalwatch.storage.session import transaction
from coalwatch.wire.batches import BatchAnswer
from coalwatch.wire.mqtt import (
    SIGNATURE_PROPERTY,
    STATUS_PROPERTY,
    batch_topic,
    broker_address,
)

log = logging.getLogger("coalwatch.exchange.mqtt")

SHARE_GROUP = "coalwatch-center"


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        try:
            return cls(*broker_address(url))
        except ValueError as exc:
            raise Invalid(f"the MQTT broker: {exc}") from None


def user_property(properties: Any, name: str) -> str | None:
    for key, value in getattr(properties, "UserProperty", None) or []:
        if key == name:
            return str(value)
    return None


class MqttIngest:
    """The center's side: subscribes to every station's batch topic and answers."""

    def __init__(
        self,
        url: str,
        prefix: str,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        limits: IngestLimits,
        events: Broker | None = None,
        committer: Committer | None = None,
        arrivals: Arrivals | None = None,
    ) -> None:
        self.address = BrokerAddress.from_url(url)
        self.prefix = prefix
        self.sessions, self.clock, self.limits, self.events = sessions, clock, limits, events
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if self.address.tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.handled = 0
        #: the process's group commit, shared with the HTTP uploads (None: a transaction
        #: per batch, in the MQTT client's thread)
        self.committer = committer
        #: the process's uploads waiting for their answer (the ingest horizon), which the
        #: batches taken over MQTT join as HTTP uploads do
        self.arrivals = arrivals

    def start(self) -> None:
        """Connects in the background; reconnects by itself while the broker is away."""
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("the MQTT broker refused the center: %s", reason)
            return
        topic = f"$share/{SHARE_GROUP}/{batch_topic(self.prefix, '+')}"
        client.subscribe(topic, qos=1)
        log.info("taking station batches over MQTT from %s", topic)

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        """Hands the batch over and returns at once (the client goes on taking messages);
        the answer is published when the batch is committed or refused."""
        parts = message.topic.split("/")
        station = parts[-2] if len(parts) >= 3 else ""
        properties = message.properties
        reply = getattr(properties, "ResponseTopic", None)
        correlation = getattr(properties, "CorrelationData", None)
        arrivals = self.arrivals
        ticket = None if arrivals is None else arrivals.arrive(self.clock())

        def send(status: int, body: bytes) -> None:
            if arrivals is not None and ticket is not None:
                arrivals.leave(ticket)
            self.handled += 1
            if not reply:
                log.warning("a batch of %s came without a response topic", station)
                return
            out = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            out.UserProperty = [(STATUS_PROPERTY, str(status))]
            if correlation is not None:
                out.CorrelationData = correlation
            out.ContentType = "application/json"
            client.publish(reply, body, qos=1, properties=out)

        signature = user_property(properties, SIGNATURE_PROPERTY)
        self.answer_later(station, bytes(message.payload), signature, send)

    def answer_later(
        self,
        station: str,
        body: bytes,
        signature: str | None,
        send: Callable[[int, bytes], None],
    ) -> None:
        """``send(status, body)`` with what ``POST /api/v1/stations/{station}/batches``
        would answer, once the batch is committed (from the committer's thread)."""
        if self.committer is None:
            send(*self.answer(station, body, signature))
            return
        try:
            future = self.committer.submit(Upload(station, body, signature, self.limits))
        except CoalwatchError as exc:  # busy: the station sends again later
            send(*_refusal(exc))
            return
        future.add_done_callback(lambda done: send(*_outcome(done, station)))

    def answer(self, station: str, body: bytes, signature: str | None) -> tuple[int, bytes]:
        """What ``POST /api/v1/stations/{station}/batches`` would answer: status and body,
        the batch ingested in a transaction of its own."""
        try:
            with transaction(self.sessions) as session:
                if self.events is not None:
                    attach(session, self.events)
                answer = ingest_batch(session, station, body, signature, self.clock(), self.limits)
            return 200, answer.model_dump_json().encode()
        except CoalwatchError as exc:
            return _refusal(exc)
        except Exception:  # a database that is away: the station sends again later
            log.exception("a batch of %s over MQTT failed", station)
            return _UNAVAILABLE


_UNAVAILABLE = 503, b'{"error": {"code": "unavailable", "message": "try again"}}'


def _refusal(exc: CoalwatchError) -> tuple[int, bytes]:
    return exc.status, json.dumps(exc.body(), ensure_ascii=False).encode()


def _outcome(done: Future[BatchAnswer], station: str) -> tuple[int, bytes]:
    error = done.exception()
    if error is None:
        return 200, done.result().model_dump_json().encode()
    if isinstance(error, CoalwatchError):
        return _refusal(error)
    log.error("a batch of %s over MQTT failed", station, exc_info=error)
    return _UNAVAILABLE


def ingest_from_settings(
    settings: Any,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    events: Broker,
    committer: Committer | None = None,
    arrivals: Arrivals | None = None,
) -> MqttIngest | None:
    if not settings.mqtt_broker:
        return None
    limits = IngestLimits.of(settings)
    return MqttIngest(
        settings.mqtt_broker,
        settings.mqtt_topic_prefix,
        sessions,
        clock,
        limits,
        events,
        committer,
        arrivals,
    )
