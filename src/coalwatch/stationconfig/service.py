"""A station's configuration belongs to the center 主站初始化参数由中心下发.

The center holds each station's buses and points (with every register map written
out), signs each issue with its own key and hands it to the station when it asks
(``fetch``, signed by the station). Every upload answer names the last issue; every
heartbeat names what the station runs; when a station runs anything else the center
raises ``parameter_change`` (of the station, subject ``station_config``), ended when
it runs the issued one again.

Who may issue: ``system:write`` at the station's mine or above. Changing what a live
station polls (one that has reached the center) can hide production as surely as
changing an instrument's parameters, so for a live station the user must belong to a
supervising unit (county and up, or see the whole tree): a mine's staff prepare and
commission, the regulator's side switches a running station over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms.service import end_condition, raise_alarm
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.config import Settings
from coalwatch.domain.alarms import AlarmType, detail_params
from coalwatch.errors import BadRequest, Forbidden, Invalid, NotFound, Unauthorized
from coalwatch.integrity.keys import center_key
from coalwatch.signals.service import supervising
from coalwatch.station.config import ConfigError
from coalwatch.station.remote_config import issued_form
from coalwatch.stationconfig import repository
from coalwatch.stationconfig.models import StationConfigRunning, StationConfigVersion
from coalwatch.stationconfig.schemas import FetchIn, StationConfigIn, StationConfigOut
from coalwatch.storage import facts
from coalwatch.storage.models import Mine, Station
from coalwatch.wire.batches import ConfigNotice, describe_error
from coalwatch.wire.signing import parse_public_key, public_key_b64, verify
from coalwatch.wire.station_config import ConfigDocument, SignedConfig, issue

SUBJECT = "station_config"
#: after a new issue, the previous one still runs this long (the station fetches the new
#: one when an upload answer names it) before it counts as not issued
SWITCH_OVER = timedelta(minutes=5)


def _station(session: Session, principal: Principal, code: str) -> tuple[Station, Mine, str]:
    found = repository.station_with_mine(session, code)
    if found is None or not principal.sees(found[2].path):
        raise NotFound(f"station {code!r} not found")
    return found[0], found[1], found[2].path


def _key_b64(settings: Settings) -> str | None:
    """The center's public key, once it has one (it is made at the first issue)."""
    key = center_key(settings, create=False)
    return None if key is None else public_key_b64(key)


def show(session: Session, principal: Principal, code: str, settings: Settings) -> StationConfigOut:
    principal.require("system:view")
    station, _, _ = _station(session, principal, code)
    issued = _last(session, station.id)
    running = repository.running(session, station.id)
    document = None if issued is None else ConfigDocument.model_validate_json(issued.document)
    return StationConfigOut(
        station=station.code,
        version=0 if issued is None else issued.version,
        fingerprint=None if issued is None else issued.fingerprint,
        issued_by=None if issued is None else issued.issued_by,
        issued_at=None if issued is None else issued.issued_at,
        config=None if document is None else document.config,
        running=None if running is None else running.fingerprint,
        running_reported_at=None if running is None else running.reported_at,
        matches=None
        if issued is None or running is None
        else running.fingerprint == issued.fingerprint,
        center_key=_key_b64(settings),
    )


def issue_config(
    session: Session,
    principal: Principal,
    code: str,
    data: StationConfigIn,
    settings: Settings,
    now: datetime,
) -> StationConfigOut:
    """A new version of the station's configuration, signed with the center's key."""
    principal.require("system:write")
    station, mine, _ = _station(session, principal, code)
    # a live station: one that has reached the center
    if station.last_seen_at is not None and not supervising(session, principal):
        raise Forbidden(
            "运行中主站的配置只能由监管单位（县级及以上）修改 (the configuration of a "
            "live station is changed by a supervising unit: county and up)",
            {"permission": "system:write", "decided_by": "supervising unit"},
        )
    try:
        config = issued_form(data.model_dump())
    except ConfigError as exc:
        raise Invalid(str(exc), code="invalid_station_config") from exc
    points = repository.point_codes(session, mine.id)
    unknown = [p["code"] for p in config["points"] if p["code"] not in points]
    if unknown:
        raise Invalid(
            f"no point {', '.join(map(repr, unknown))} in mine {mine.code}",
            code="invalid_station_config",
        )
    key = center_key(settings)
    assert key is not None
    latest = _last(session, station.id)
    version = 1 if latest is None else latest.version + 1
    signed = issue(key, station.code, version, now, config)
    document = ConfigDocument.model_validate_json(signed.document)
    session.add(
        StationConfigVersion(
            station_id=station.id,
            mine_id=mine.id,
            version=version,
            fingerprint=document.fingerprint,
            document=signed.document,
            signature=signed.signature,
            issued_by=principal.name,
            issued_at=now,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="station.config_issued",
        entity="station",
        key=station.code,
        detail={"version": version, "fingerprint": document.fingerprint},
        at=now,
    )
    return show(session, principal, code, settings)


def fetch(
    session: Session, code: str, body: bytes, signature: str | None, now: datetime
) -> SignedConfig:
    """The station asks for its configuration (signed with its key, as a batch is)."""
    found = repository.station_with_mine(session, code)
    if found is None:
        raise Unauthorized(f"unknown station {code!r}")
    station = found[0]
    if not signature or not verify(parse_public_key(station.public_key), body, signature):
        raise Unauthorized("the signature does not match the body and the station's key")
    try:
        request = FetchIn.model_validate_json(body)
    except ValidationError as exc:
        raise BadRequest(
            f"the request is not understood: {describe_error(exc)}", code="malformed_body"
        ) from exc
    if request.station != station.code:
        raise BadRequest(f"the body is for station {request.station!r}", code="malformed_body")
    # what it runs is judged from its heartbeats: a station fetching at start is about to
    # change what it runs
    issued = _last(session, station.id)
    if issued is None:
        raise NotFound(f"the center holds no configuration for station {code!r}")
    return SignedConfig(document=issued.document, signature=issued.signature)


def report_running(
    session: Session, mine: Mine, station: Station, running: str, now: datetime
) -> ConfigNotice | None:
    """The station says what it runs: keep it, and alarm when it is not what the center
    issued (nothing to compare before the first issue). Returns the last issue."""
    row = repository.running(session, station.id)
    if row is None:
        session.add(
            StationConfigRunning(station_id=station.id, fingerprint=running, reported_at=now)
        )
    else:
        row.fingerprint, row.reported_at = running, now
    last_two = repository.latest(session, station.id, 2)
    if not last_two:
        return None
    issued = last_two[0]
    notice = ConfigNotice(version=issued.version, fingerprint=issued.fingerprint)
    previous = last_two[1] if len(last_two) > 1 else None
    if (
        previous is not None
        and running == previous.fingerprint
        and now - issued.issued_at < SWITCH_OVER
    ):
        return notice  # switching over to the new issue
    condition: dict[str, Any] = {
        "mine_id": mine.id,
        "type_": AlarmType.PARAMETER_CHANGE,
        "at": now,
        "station_id": station.id,
        "subject": SUBJECT,
    }
    if running == issued.fingerprint:
        end_condition(session, **condition)
    else:
        raise_alarm(
            session,
            **condition,
            value=running[:12],
            threshold=issued.fingerprint[:12],
            detail=f"主站 {station.code} 运行的配置 {running[:12]} 不是中心下发的第 "
            f"{issued.version} 版 {issued.fingerprint[:12]}",
            params=detail_params(
                "config_mismatch",
                station=station.code,
                running=running[:12],
                issued=issued.fingerprint[:12],
                version=issued.version,
            ),
        )
    return notice


def notice(session: Session, station: Station) -> ConfigNotice | None:
    """The configuration last issued to the station (kept per process until an issue)."""

    found = facts.cached_among(
        session, "station config", station.id, _TABLES, lambda: _every_last(session), None
    )
    if found is None:
        return None
    return ConfigNotice(version=found[0], fingerprint=found[1])


_TABLES = frozenset({"station_configs"})


def _every_last(session: Session) -> dict[int, tuple[int, str] | None]:
    """Every station's last issue (version, fingerprint), None for one never issued any."""
    found: dict[int, tuple[int, str] | None] = dict.fromkeys(
        session.scalars(select(Station.id)), None
    )
    found.update(
        (station_id, (version, fingerprint))
        for station_id, version, fingerprint in repository.last_issues(session)
    )
    return found


def _last(session: Session, station_id: int) -> StationConfigVersion | None:
    found = repository.latest(session, station_id)
    return found[0] if found else None
