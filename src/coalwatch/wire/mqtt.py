"""Station batches over MQTT, as stations and centers both speak it: the broker's address,
the topics, and the MQTT 5 user properties that carry what HTTP carries in headers."""

from __future__ import annotations

from urllib.parse import urlsplit

#: user property of a batch: the X-Signature value
SIGNATURE_PROPERTY = "signature"
#: user property of an answer: the HTTP status the center would have answered
STATUS_PROPERTY = "status"


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of mqtt://HOST[:PORT] or mqtts://HOST[:PORT]; ValueError else."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"{url!r} is not mqtt://HOST:PORT or mqtts://HOST:PORT")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ValueError(f"{url!r} has a bad port") from None
    return parts.hostname, port, parts.scheme == "mqtts"


def batch_topic(prefix: str, station: str) -> str:
    return f"{prefix}/stations/{station}/batches"


def answer_topic(prefix: str, station: str) -> str:
    return f"{prefix}/stations/{station}/answers"
