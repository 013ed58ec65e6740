from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from coalwatch.wire.batches import Fingerprint
from coalwatch.wire.types import Moment


class FetchIn(BaseModel):
    """A station asks for its configuration (the body it signs)."""

    station: str
    sent_at: Moment
    #: the fingerprint of the configuration it runs
    running: Fingerprint | None = None


class StationConfigIn(BaseModel):
    """A station's buses and points (the ``[buses.*]`` and ``[[points]]`` of a station
    file, as JSON); a device's map is a shipped map's name or its registers inline."""

    buses: dict[str, Any]
    points: list[dict[str, Any]]


class StationConfigOut(BaseModel):
    station: str
    #: the last configuration issued (none yet: version 0)
    version: int
    fingerprint: str | None
    issued_by: str | None
    issued_at: datetime | None
    config: dict[str, Any] | None
    #: what the station last said it runs, and when
    running: str | None
    running_reported_at: datetime | None
    #: the station runs what the center issued
    matches: bool | None
    #: the center's public key (base64): ``[station] center_key`` of the station's file
    #: (none before the center's key exists: it is made at the first issue)
    center_key: str | None
