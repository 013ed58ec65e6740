"""Pages of 视频监视: 实时画面 (live view, refreshing snapshots), 图像回放 (the stored
pictures by point and time) and the pictures of an alarm."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from coalwatch.errors import Invalid
from coalwatch.mines import service as mines
from coalwatch.video import service
from coalwatch.video.schemas import CameraIn
from coalwatch.web.forms import submit
from coalwatch.web.pages import Page, need

router = APIRouter(include_in_schema=False)
VideoPage = Annotated[Page, Depends(need("video:view"))]
Text = Annotated[str | None, Query(max_length=64)]
#: the live view asks for a new picture this often
REFRESH_S = 5
#: pictures on one page of the playback
PLAYBACK_LIMIT = 300
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/video/live")
def live(page: VideoPage, mine: Text = None) -> Response:
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
        code = mine or (items[0].code if items else None)
        cameras = service.list_cameras(session, page.principal, code) if code else []
    current = next((m for m in items if m.code == code), None)
    return page.render(
        "video/live.html",
        mines=items,
        mine=code,
        current=current,
        cameras=cameras,
        refresh=REFRESH_S,
        stamp=int(page.now().timestamp()),
    )


@router.get("/video/cameras/{camera_id}/tile")
def tile(page: VideoPage, camera_id: int) -> Response:
    """One camera of the live view (htmx swaps it every few seconds)."""
    with page.session() as session:
        camera = service.get_camera(session, page.principal, camera_id)
    return page.render(
        "video/_tile.html", c=camera, refresh=REFRESH_S, stamp=int(page.now().timestamp())
    )


@router.get("/video/cameras/{camera_id}/live.jpg")
async def live_picture(page: VideoPage, camera_id: int) -> Response:
    """The camera's picture of this moment with the overlay (not stored)."""
    state = page.state
    data = await run_in_threadpool(
        service.live_picture, state.sessions, page.principal, state.settings, camera_id, page.now()
    )
    return Response(data, media_type="image/jpeg", headers=NO_STORE)


@router.post("/video/{mine}/cameras")
async def register_camera(page: VideoPage, mine: str) -> Response:
    form = await page.request.form()
    point = form.get("point")

    def action(session: Session, data: CameraIn) -> None:
        if not isinstance(point, str) or not point:
            raise Invalid(page._("请选择计量点"))
        service.register_camera(session, page.principal, mine, point, data, page.now())

    return await submit(
        page,
        CameraIn,
        action,
        back=f"/video/live?mine={mine}",
        done=page._("摄像机已登记"),
        exclude=("point",),
    )


def _day_bounds(day: date, hour: int | None, tz: ZoneInfo) -> tuple[datetime, datetime]:
    if hour is None:
        start = datetime.combine(day, time(), tz)
        return start, datetime.combine(day + timedelta(days=1), time(), tz)
    start = datetime.combine(day, time(hour), tz)
    return start, start + timedelta(hours=1)


@router.get("/video/playback")
def playback(
    page: VideoPage,
    mine: Text = None,
    point: Text = None,
    day: date | None = None,
    hour: Annotated[int | None, Query(ge=0, le=23)] = None,
) -> Response:
    """图像回放: a point's pictures of a day (or of one hour), newest first."""
    with page.session() as session:
        items = mines.list_mines(session, page.principal, page.now())
        code = mine or (items[0].code if items else None)
        current = next((m for m in items if m.code == code), None)
        points = current.points if current else []
        point_code = point or (points[0].code if points else None)
        if point_code not in {p.code for p in points}:
            point_code = points[0].code if points else None
        tz = page.state.settings.tz
        shown_day = day or page.now().astimezone(tz).date()
        start, end = _day_bounds(shown_day, hour, tz)
        pictures = (
            service.list_snapshots(
                session,
                page.principal,
                code,
                point_code,
                start,
                end,
                PLAYBACK_LIMIT + 1,
                newest_first=True,
            )
            if code and point_code
            else []
        )
    return page.render(
        "video/playback.html",
        mines=items,
        mine=code,
        current=current,
        point=point_code,
        day=shown_day,
        hour=hour,
        pictures=pictures[:PLAYBACK_LIMIT],
        truncated=len(pictures) > PLAYBACK_LIMIT,
    )


@router.get("/video/snapshots/{snapshot_id}.jpg")
def snapshot_image(page: VideoPage, snapshot_id: int) -> Response:
    with page.session() as session:
        path = service.snapshot_file(session, page.principal, page.state.settings, snapshot_id)
    return FileResponse(path, media_type="image/jpeg")


@router.get("/video/alarms/{alarm_id}")
def alarm_pictures(page: VideoPage, alarm_id: int) -> Response:
    """相关图像: the pictures of an alarm's point around the alarm."""
    window = timedelta(minutes=page.state.settings.video_alarm_window_min)
    with page.session() as session:
        alarm, pictures = service.alarm_snapshots(session, page.principal, alarm_id, window)
    return page.render(
        "video/alarm.html", a=alarm, pictures=pictures, window=window.total_seconds() // 60
    )
