"""Video at the metering points 视频监视: cameras, the snapshot service, camera health
and the picture archive.

Every job round (:func:`poll`) looks at the cameras that are due: a periodic snapshot
(often while the point's conveyor runs, seldom while it stands) or a new alarm of the
point. Each picture gets the time, the mine, the point, the flow and the totalizer
burned in, is stored under the snapshot directory and indexed by point and time. Each
look is also a health check: no answer, a black or a frozen picture raises
``camera_fault`` (opening its fault record, as the station's camera events do); the
next good picture ends it (``camera_ok``). Retention removes pictures by age and,
oldest first, above the disk quota.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.alarms import service as alarms
from coalwatch.alarms.models import Alarm
from coalwatch.alarms.schemas import AlarmView
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.config import Settings
from coalwatch.domain import video as rules
from coalwatch.domain.alarms import LABELS, AlarmType, detail_params
from coalwatch.domain.units import kg_to_tonnes
from coalwatch.errors import Conflict, NotFound
from coalwatch.events.broker import Broker, attach
from coalwatch.faults import service as faults
from coalwatch.mines.service import mine_point, visible_mine
from coalwatch.monitor import repository as monitor
from coalwatch.storage.models import Mine, Point
from coalwatch.storage.session import transaction
from coalwatch.video import capture, overlay, repository
from coalwatch.video.models import Camera, Snapshot
from coalwatch.video.schemas import CameraIn, CameraOut, SnapshotOut

log = logging.getLogger("coalwatch.video")

MAX_LISTED = 1000
#: cameras fetched at once in a round
WORKERS = 8
RETENTION_BATCH = 500
#: a look at a camera between snapshots: its health is checked, the picture not kept
CHECK = "check"


# ---- cameras ----------------------------------------------------------------------------


def _camera_out(camera: Camera, mine: str, point: str) -> CameraOut:
    return CameraOut(
        id=camera.id,
        mine=mine,
        point=point,
        code=camera.code,
        name=camera.name,
        snapshot_url=camera.snapshot_url,
        rtsp_url=camera.rtsp_url,
        auth=camera.auth,
        username=camera.username,
        enabled=camera.enabled,
        health=camera.health,
        last_checked_at=camera.last_checked_at,
        last_seen_at=camera.last_seen_at,
        last_snapshot_at=camera.last_snapshot_at,
        last_error=camera.last_error,
    )


def register_camera(
    session: Session,
    principal: Principal,
    mine_code: str,
    point_code: str,
    data: CameraIn,
    now: datetime,
) -> CameraOut:
    """A camera at a metering point; alarms raised before it are not pictured."""
    principal.require("video:write")
    mine, _ = visible_mine(session, principal, mine_code)
    point = mine_point(session, mine, point_code, missing=NotFound)
    if repository.camera_by_code(session, point.id, data.code) is not None:
        raise Conflict(f"point {point.code!r} has a camera {data.code!r} already")
    camera = Camera(
        mine_id=mine.id,
        point_id=point.id,
        code=data.code,
        name=data.name,
        snapshot_url=data.snapshot_url,
        rtsp_url=data.rtsp_url,
        auth=data.auth,
        username=data.username,
        password=data.password,
        enabled=data.enabled,
        health=rules.Health.UNKNOWN.value,
        unchanged=0,
        alarm_mark=repository.newest_alarm_id(session, point.id),
        created_at=now,
    )
    repository.add(session, camera)
    audit.record(
        session,
        actor=principal.name,
        action="camera.register",
        entity="camera",
        key=str(camera.id),
        detail={
            "mine": mine.code,
            "point": point.code,
            **data.model_dump(mode="json", exclude={"password"}),
            "password": "***" if data.password else None,
        },
        at=now,
    )
    return _camera_out(camera, mine.code, point.code)


def list_cameras(
    session: Session, principal: Principal, mine_code: str, point_code: str | None = None
) -> list[CameraOut]:
    principal.require("video:view")
    mine, _ = visible_mine(session, principal, mine_code)
    if point_code is not None:
        point = mine_point(session, mine, point_code, missing=NotFound)
        return [
            _camera_out(c, mine.code, point.code)
            for c in repository.cameras_of_point(session, point.id)
        ]
    return [
        _camera_out(c, mine.code, p.code) for c, p in repository.cameras_of_mine(session, mine.id)
    ]


def _visible_camera(
    session: Session, principal: Principal, camera_id: int
) -> tuple[Camera, Point, Mine]:
    found = repository.camera_with_place(session, camera_id)
    if found is None or not principal.sees(found[3].path):
        raise NotFound(f"camera {camera_id} not found")
    return found[0], found[1], found[2]


def get_camera(session: Session, principal: Principal, camera_id: int) -> CameraOut:
    principal.require("video:view")
    camera, point, mine = _visible_camera(session, principal, camera_id)
    return _camera_out(camera, mine.code, point.code)


# ---- the overlay ------------------------------------------------------------------------

_TENTH = Decimal("0.1")
STATES = {True: "运行", False: "停止", None: "未知"}


def _tonnes(kg: int | None) -> str:
    return "—" if kg is None else f"{kg_to_tonnes(kg):,.3f}"


def _flow(kgph: int | None) -> str:
    if kgph is None:
        return "—"
    return f"{kg_to_tonnes(kgph).quantize(_TENTH, rounding=ROUND_HALF_UP):,}"


def overlay_lines(
    mine: Mine,
    point: Point,
    camera: Camera,
    at: datetime,
    flow_kgph: int | None,
    running: bool | None,
) -> list[str]:
    """What is burned into a picture: local time, mine, point, flow and totalizer."""
    local = at.astimezone(ZoneInfo(mine.timezone))
    offset = local.strftime("%z")
    return [
        f"{local:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}  {mine.name} ({mine.code})",
        f"{point.name} ({point.code}) · {camera.name}",
        f"瞬时流量 {_flow(flow_kgph)} t/h   累计 {_tonnes(point.last_total_kg)} t   "
        f"输送机 {STATES[running]}",
    ]


def _state(session: Session, point: Point) -> tuple[int | None, bool | None]:
    """The point's last known flow (kg/h) and conveyor state."""
    sample = monitor.last_sample(session, point.id)
    conveyor = monitor.last_conveyor(session, point.id)
    return (sample[1] if sample else None), (conveyor[1] if conveyor else None)


# ---- the snapshot service ----------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    camera_id: int
    source: capture.Source
    lines: list[str]
    running: bool
    reason: str
    alarm_id: int | None


@dataclass(frozen=True)
class _Look:
    """What fetching a camera gave: a picture, or why none."""

    frame: overlay.Frame | None = None
    jpeg: bytes = b""
    error: str | None = None


def _source(camera: Camera) -> capture.Source:
    return capture.Source(
        snapshot_url=camera.snapshot_url,
        rtsp_url=camera.rtsp_url,
        auth=camera.auth,
        username=camera.username,
        password=camera.password,
    )


def _plan(session: Session, settings: Settings, now: datetime) -> list[_Job]:
    jobs = []
    running_every = timedelta(seconds=settings.video_interval_running_s)
    standing_every = timedelta(seconds=settings.video_interval_standing_s)
    check_every = timedelta(seconds=settings.video_check_interval_s)
    cameras = repository.enabled_cameras(session)
    if not cameras:
        return []
    newest_of = repository.newest_alarm_ids(
        session, min(c.alarm_mark for c, _, _ in cameras), {p.id for _, p, _ in cameras}
    )
    for camera, point, mine in cameras:
        newest = newest_of.get(point.id, 0)
        looked_at = (
            newest > camera.alarm_mark
            or rules.check_due(camera.last_checked_at, now, check_every)
            or rules.snapshot_due(camera.last_snapshot_at, now, True, running_every, standing_every)
        )
        if not looked_at:
            continue  # not due even if the conveyor runs: spare the state's queries
        flow, running = _state(session, point)
        if newest > camera.alarm_mark:
            camera.alarm_mark = newest  # one picture for the newest alarm, even if it fails
            reason, alarm_id = "alarm", newest
        elif rules.snapshot_due(
            camera.last_snapshot_at, now, bool(running), running_every, standing_every
        ):
            reason, alarm_id = "periodic", None
        elif rules.check_due(camera.last_checked_at, now, check_every):
            reason, alarm_id = CHECK, None
        else:
            continue
        lines = overlay_lines(mine, point, camera, now, flow, running)
        jobs.append(_Job(camera.id, _source(camera), lines, bool(running), reason, alarm_id))
    return jobs


def _look(source: capture.Source, lines: list[str], timeout_s: float) -> _Look:
    """Fetch, decode and burn in (in a worker thread: no database here)."""
    try:
        frame = overlay.decode(capture.fetch(source, timeout_s))
    except capture.CaptureError as exc:
        return _Look(error=str(exc)[:500])
    return _Look(frame, overlay.jpeg(overlay.burn(frame.image, lines), "\n".join(lines)))


def _fetch_all(jobs: list[_Job], timeout_s: float) -> list[_Look]:
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(jobs))) as pool:
        return list(pool.map(lambda job: _look(job.source, job.lines, timeout_s), jobs))


def _limits(settings: Settings) -> rules.VideoLimits:
    return rules.VideoLimits(
        black_luminance=settings.video_black_luminance,
        frozen_difference=settings.video_frozen_difference,
        frozen_repeats=settings.video_frozen_repeats,
    )


def _store(directory: Path, camera: Camera, at: datetime, reason: str, data: bytes) -> str:
    """Write the picture (whole or not at all) and say where, relative to the directory."""
    relative = (
        f"{camera.mine_id}/{camera.point_id}/{at:%Y%m%d}/{camera.id}-{at:%H%M%S%f}-{reason}.jpg"
    )
    path = directory / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    os.replace(partial, path)
    return relative


def _record(
    session: Session, settings: Settings, job: _Job, look: _Look, now: datetime
) -> Snapshot | None:
    camera = session.get_one(Camera, job.camera_id)
    previous = rules.Health(camera.health)
    difference = None
    if look.frame is not None and camera.fingerprint is not None:
        difference = overlay.difference(camera.fingerprint, look.frame.fingerprint)
    verdict = rules.check(
        answered=look.frame is not None,
        luminance=look.frame.luminance if look.frame else None,
        difference=difference,
        running=job.running,
        unchanged=camera.unchanged,
        previous=previous,
        limits=_limits(settings),
    )
    camera.health, camera.unchanged = verdict.health.value, verdict.unchanged
    camera.last_checked_at = now
    camera.last_error = look.error
    snapshot = None
    if look.frame is not None:
        camera.last_seen_at = now
        camera.fingerprint = look.frame.fingerprint
        if job.reason == "periodic":
            camera.last_snapshot_at = now
    if look.frame is not None and job.reason != CHECK:
        snapshot = Snapshot(
            mine_id=camera.mine_id,
            point_id=camera.point_id,
            camera_id=camera.id,
            taken_at=now,
            reason=job.reason,
            alarm_id=job.alarm_id,
            path=_store(settings.snapshot_dir, camera, now, job.reason, look.jpeg),
            size=len(look.jpeg),
            width=look.frame.image.width,
            height=look.frame.image.height,
            health=verdict.health.value,
            overlay="\n".join(job.lines),
        )
        repository.add(session, snapshot)
    _health_alarm(session, camera, verdict.health, previous, look.error, now)
    return snapshot


def _health_alarm(
    session: Session,
    camera: Camera,
    health: rules.Health,
    previous: rules.Health,
    error: str | None,
    now: datetime,
) -> None:
    """camera_fault while the camera is down, black or frozen; camera_ok when it is well
    again: the alarm lifecycle and the fault record of the station's camera events."""
    mine = session.get_one(Mine, camera.mine_id)
    if mine.managed_by_center_id is not None:
        return  # its downstream center watches its cameras
    subject = f"camera:{camera.code}"
    if rules.faulty(health):
        # the error is the camera's or the network's own words: kept as they came
        params = detail_params(
            "camera",
            camera=f"{camera.name} ({camera.code})",
            health=health.value,
            **({"text": error} if error else {}),
        )
        alarm, new = alarms.raise_alarm(
            session,
            mine_id=mine.id,
            type_=AlarmType.CAMERA_FAULT,
            at=now,
            value=health.value,
            params=params,
            point_id=camera.point_id,
            subject=subject,
        )
        if new:
            phenomenon = f"{LABELS[AlarmType.CAMERA_FAULT]} {alarm.detail}"
            faults.open_for_alarm(session, alarm, phenomenon)
        if health is not previous:
            log.warning("camera %s (id %d): %s", camera.code, camera.id, health.value)
    elif health is rules.Health.OK:
        ended = alarms.end_condition(
            session,
            mine_id=mine.id,
            type_=AlarmType.CAMERA_FAULT,
            at=now,
            point_id=camera.point_id,
            subject=subject,
        )
        if ended is not None:
            faults.recovered(session, ended)
            log.info("camera %s (id %d) recovered", camera.code, camera.id)


@dataclass(frozen=True)
class Round:
    """What a round did."""

    looked: int
    stored: int
    deleted: int


def poll(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    broker: Broker | None = None,
) -> Round:
    """One round of the snapshot service: plan, fetch (outside any transaction), record,
    then retention."""
    with transaction(sessions) as session:
        jobs = _plan(session, settings, now)
    looks = _fetch_all(jobs, settings.video_timeout_s)
    stored = 0
    with transaction(sessions) as session:
        if broker is not None:
            attach(session, broker)
        for job, look in zip(jobs, looks, strict=True):
            if _record(session, settings, job, look, now) is not None:
                stored += 1
    return Round(len(jobs), stored, retain(sessions, settings, now))


class VideoJob:
    """The snapshot service as the scheduler runs it (the settings it needs, bound)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(
        self, sessions: sessionmaker[Session], now: datetime, broker: Broker | None = None
    ) -> None:
        poll(sessions, self.settings, now, broker)


# ---- retention --------------------------------------------------------------------------


def retain(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Delete pictures older than the retention days, then the oldest above the quota;
    the files go once their rows are gone (a crash leaves a stray file, never a row
    without its picture)."""
    cutoff = now - timedelta(days=settings.video_retention_days)
    quota = int(settings.video_quota_mb * 1024 * 1024)
    paths: list[str] = []
    with transaction(sessions) as session:
        total = repository.total_size(session)
        while True:
            batch = repository.oldest(session, RETENTION_BATCH)
            chosen = rules.to_delete(
                [rules.Stored(s.id, s.taken_at, s.size) for s in batch], total, cutoff, quota
            )
            if not chosen:
                break
            gone = {s.id: s for s in batch}
            paths.extend(gone[i].path for i in chosen)
            total -= sum(gone[i].size for i in chosen)
            repository.delete_snapshots(session, chosen)
            if len(chosen) < len(batch) or len(batch) < RETENTION_BATCH:
                break
    for relative in paths:
        (settings.snapshot_dir / relative).unlink(missing_ok=True)
    return len(paths)


# ---- the archive ------------------------------------------------------------------------


def _snapshot_out(snapshot: Snapshot, mine: str, point: str, camera: str) -> SnapshotOut:
    return SnapshotOut(
        id=snapshot.id,
        mine=mine,
        point=point,
        camera=camera,
        taken_at=snapshot.taken_at,
        reason=snapshot.reason,
        alarm_id=snapshot.alarm_id,
        health=snapshot.health,
        width=snapshot.width,
        height=snapshot.height,
        size=snapshot.size,
        overlay=snapshot.overlay.split("\n"),
        image=f"/api/v1/snapshots/{snapshot.id}/image",
    )


def list_snapshots(
    session: Session,
    principal: Principal,
    mine_code: str,
    point_code: str,
    start: datetime | None,
    end: datetime | None,
    limit: int = MAX_LISTED,
    newest_first: bool = False,
) -> list[SnapshotOut]:
    """A point's pictures taken in [start, end), in order of time."""
    principal.require("video:view")
    mine, _ = visible_mine(session, principal, mine_code)
    point = mine_point(session, mine, point_code, missing=NotFound)
    rows = repository.snapshots(session, point.id, start, end, min(limit, MAX_LISTED), newest_first)
    return [_snapshot_out(s, mine.code, point.code, camera) for s, camera in rows]


def snapshot_file(
    session: Session, principal: Principal, settings: Settings, snapshot_id: int
) -> Path:
    """The stored JPEG of a picture the principal may see."""
    principal.require("video:view")
    found = repository.snapshot_with_place(session, snapshot_id)
    if found is None or not principal.sees(found[4].path):
        raise NotFound(f"snapshot {snapshot_id} not found")
    path = settings.snapshot_dir / found[0].path
    if not path.is_file():
        raise NotFound(f"the picture of snapshot {snapshot_id} is no longer stored")
    return path


def alarm_snapshots(
    session: Session, principal: Principal, alarm_id: int, window: timedelta
) -> tuple[AlarmView, list[SnapshotOut]]:
    """An alarm and its point's pictures from ``window`` before it began to ``window``
    after (or after it ended), and those taken for it."""
    principal.require("video:view")
    view = alarms.get_alarm(session, principal, alarm_id)
    alarm = session.get_one(Alarm, alarm_id)
    if alarm.point_id is None or view.point is None or view.mine is None:
        return view, []
    start = alarm.start - window
    end = (alarm.end or alarm.start) + window
    rows = repository.snapshots(session, alarm.point_id, start, end, MAX_LISTED)
    return view, [_snapshot_out(s, view.mine, view.point, camera) for s, camera in rows]


def latest_of_camera(
    session: Session, principal: Principal, camera_id: int
) -> tuple[CameraOut, SnapshotOut | None]:
    camera, point, mine = _visible_camera(session, principal, camera_id)
    snapshot = repository.latest_snapshot(session, camera.id)
    out = _camera_out(camera, mine.code, point.code)
    if snapshot is None:
        return out, None
    return out, _snapshot_out(snapshot, mine.code, point.code, camera.code)


# ---- the live view ----------------------------------------------------------------------


def live_picture(
    sessions: sessionmaker[Session],
    principal: Principal,
    settings: Settings,
    camera_id: int,
    now: datetime,
) -> bytes:
    """The camera's picture of this moment with the overlay (not stored); a grey
    "no signal" picture when it does not answer."""
    principal.require("video:view")
    with transaction(sessions) as session:
        camera, point, mine = _visible_camera(session, principal, camera_id)
        flow, running = _state(session, point)
        lines = overlay_lines(mine, point, camera, now, flow, running)
        source, name = _source(camera), camera.name
    look = _look(source, lines, min(settings.video_timeout_s, 3.0))
    if look.frame is None:
        return overlay.placeholder(["无信号 / no signal", name, lines[0][:19]])
    return look.jpeg
