"""Virtual stations 虚拟主站: a mine whose readings come from another vendor's files or a
third-party gateway has, at this center, a station that no instrument feeds. Its
readings are signed with a key the center keeps for it (encrypted at rest) and go
through ``ingest_batch`` like any station's upload: the same checks, limits, rollups,
alarms and ``coalwatch verify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from coalwatch.auth.permissions import ALL
from coalwatch.auth.principal import Principal
from coalwatch.errors import Invalid
from coalwatch.exchange import repository
from coalwatch.exchange.models import VirtualStation
from coalwatch.ingest.service import IngestLimits, ingest_batch
from coalwatch.mines import repository as mines_repository
from coalwatch.mines import service as mines
from coalwatch.mines.schemas import StationIn
from coalwatch.storage.models import Mine, Station
from coalwatch.wire.batches import encode_batch
from coalwatch.wire.signing import (
    generate_private_key,
    load_private_key_pem,
    private_key_pem,
    public_key_b64,
    sign,
)

#: who defines points and stations from files and gateways, in the audit log
IMPORTER = Principal(name="system:exchange", scope_path=None, permissions=frozenset({ALL}))
#: the virtual station of mine M is "M.virtual"
VIRTUAL_SUFFIX = ".virtual"


def virtual_station_code(mine_code: str) -> str:
    return f"{mine_code}{VIRTUAL_SUFFIX}"


def refuse_own_stations(session: Session, mine: Mine) -> None:
    """A mine measured by stations of its own here takes no outside readings: they would
    count its production twice."""
    own = repository.own_stations(session, mine.id)
    if own:
        raise Invalid(
            f"mine {mine.code!r} has its own station(s) here ({', '.join(own)}): "
            "outside readings would count its production twice"
        )


def virtual_station(session: Session, mine: Mine, now: datetime) -> Station:
    """The mine's virtual station, registered (with a new key) the first time."""
    found = repository.virtual_station(session, mine.id)
    if found is not None:
        return found[0]
    key = generate_private_key()
    code = virtual_station_code(mine.code)
    mines.register_station(
        session, IMPORTER, mine.code, StationIn(code=code, public_key=public_key_b64(key)), now
    )
    created = mines_repository.station_by_code(session, code)
    assert created is not None
    session.add(
        VirtualStation(
            station_id=created.id,
            mine_id=mine.id,
            private_key=private_key_pem(key).decode(),
            created_at=now,
        )
    )
    session.flush()
    return created


def account(
    session: Session,
    mine: Mine,
    records: list[dict[str, Any]],
    now: datetime,
    limits: IngestLimits,
) -> int:
    """The readings (station records without seq) as one signed batch of the mine's
    virtual station; the number the center took (the others are quarantined)."""
    if not records:
        return 0
    station = virtual_station(session, mine, now)
    found = repository.virtual_station(session, mine.id)
    assert found is not None
    key = load_private_key_pem(found[1].private_key.encode())
    records = sorted(records, key=lambda r: r["ts"])
    for seq, record in enumerate(records, start=station.max_seq + 1):
        record["seq"] = seq
    body = encode_batch(station.code, now, records)
    answer = ingest_batch(session, station.code, body, sign(key, body), now, limits)
    return len(records) - len(answer.rejected)
