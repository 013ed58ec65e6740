"""JSON routes of 视频监视: cameras per metering point, the picture archive, the pictures
of an alarm."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from coalwatch.schemas import Id
from coalwatch.video import service
from coalwatch.video.schemas import CameraIn, CameraList, CameraOut, SnapshotList
from coalwatch.web.context import Ctx
from coalwatch.wire.types import Moment

router = APIRouter(tags=["video"])

JPEG = "image/jpeg"
JPEG_CONTENT = {
    "description": "the stored picture (JPEG) with the weighing data burned in",
    "content": {JPEG: {"schema": {"type": "string", "format": "binary"}}},
}


@router.get("/mines/{mine}/points/{point}/cameras", summary="A metering point's cameras")
def list_cameras(mine: str, point: str, ctx: Ctx) -> CameraList:
    with ctx.session() as session:
        return CameraList(items=service.list_cameras(session, ctx.principal(session), mine, point))


@router.post(
    "/mines/{mine}/points/{point}/cameras",
    status_code=201,
    summary="Register a camera at a metering point",
    description="A snapshot URL (HTTP/HTTPS, optional Basic or Digest credentials) or an "
    "RTSP URL (one frame grabbed with ffmpeg, where installed). The password is kept to "
    "talk to the camera and never returned.",
)
def register_camera(mine: str, point: str, data: CameraIn, ctx: Ctx) -> CameraOut:
    with ctx.session() as session:
        return service.register_camera(
            session, ctx.principal(session), mine, point, data, ctx.now()
        )


@router.get(
    "/mines/{mine}/points/{point}/snapshots",
    summary="A metering point's stored pictures taken in [from, to), in order of time",
)
def list_snapshots(
    mine: str,
    point: str,
    ctx: Ctx,
    start: Annotated[Moment | None, Query(alias="from")] = None,
    end: Annotated[Moment | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LISTED)] = service.MAX_LISTED,
) -> SnapshotList:
    with ctx.session() as session:
        items = service.list_snapshots(
            session, ctx.principal(session), mine, point, start, end, limit
        )
    return SnapshotList(items=items)


@router.get(
    "/snapshots/{snapshot_id}/image",
    summary="A stored picture (JPEG)",
    response_class=Response,
    responses={200: JPEG_CONTENT},
)
def snapshot_image(snapshot_id: Id, ctx: Ctx) -> Response:
    with ctx.session() as session:
        path = service.snapshot_file(session, ctx.principal(session), ctx.settings, snapshot_id)
    return FileResponse(path, media_type=JPEG)


@router.get(
    "/alarms/{alarm_id}/snapshots",
    summary="The pictures of an alarm's point around the alarm (and those taken for it)",
)
def alarm_snapshots(alarm_id: Id, ctx: Ctx) -> SnapshotList:
    window = timedelta(minutes=ctx.settings.video_alarm_window_min)
    with ctx.session() as session:
        _, items = service.alarm_snapshots(session, ctx.principal(session), alarm_id, window)
    return SnapshotList(items=items)
