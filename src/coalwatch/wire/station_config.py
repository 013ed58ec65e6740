"""A station's configuration as the center issues it: a document signed with the center's key.

The configuration proper is the station's ``buses`` and ``points`` (with every register
map written out, never a map name: the station runs exactly what was signed). Its
fingerprint is the SHA-256 of its canonical JSON (keys sorted, no spaces, UTF-8), so the
station and the center compute the same figure from the same content, whichever of them
wrote it. The document wraps it with the station's code, the version and when it was
issued; the center signs the exact bytes of the document, which travel as a JSON string
beside their signature::

    {"document": "{\\"config\\":{...},\\"fingerprint\\":\\"…\\",\\"issued_at\\":\\"…\\",
                   \\"station\\":\\"S1\\",\\"version\\":3}",
     "signature": "base64 of the Ed25519 signature of the document's UTF-8 bytes"}
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, ValidationError

from coalwatch.wire.batches import Fingerprint
from coalwatch.wire.signing import parse_public_key, sign, verify
from coalwatch.wire.types import Moment


class ConfigRefused(ValueError):
    """A configuration document that must not be run: bad signature, wrong station, unreadable."""


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(config: dict[str, Any]) -> str:
    """SHA-256 (hex) of the configuration's canonical JSON."""
    return hashlib.sha256(canonical(config)).hexdigest()


class ConfigDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    station: str
    version: int
    issued_at: Moment
    fingerprint: Fingerprint
    config: dict[str, Any]


class SignedConfig(BaseModel):
    """What the center answers a station's fetch with."""

    document: str
    signature: str


def issue(
    key: Ed25519PrivateKey, station: str, version: int, issued_at: datetime, config: dict[str, Any]
) -> SignedConfig:
    """The signed document of a configuration (already in its normal form)."""
    document = canonical(
        {
            "station": station,
            "version": version,
            "issued_at": issued_at.isoformat(),
            "fingerprint": fingerprint(config),
            "config": config,
        }
    )
    return SignedConfig(document=document.decode(), signature=sign(key, document))


def open_signed(signed: SignedConfig, center_public_key: str, station: str) -> ConfigDocument:
    """The document, once its signature, station and fingerprint are checked; ConfigRefused
    saying why otherwise."""
    try:
        key = parse_public_key(center_public_key)
    except ValueError as exc:
        raise ConfigRefused(f"the center's public key is unusable: {exc}") from exc
    body = signed.document.encode()
    if not verify(key, body, signed.signature):
        raise ConfigRefused("the configuration's signature is not the center's")
    try:
        document = ConfigDocument.model_validate_json(body)
    except ValidationError as exc:
        raise ConfigRefused(f"the configuration document is invalid: {exc}") from exc
    if document.station != station:
        raise ConfigRefused(
            f"the configuration is for station {document.station!r}, not {station!r}"
        )
    if fingerprint(document.config) != document.fingerprint:
        raise ConfigRefused("the configuration does not match its fingerprint")
    return document
