from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from coalwatch.schemas import Code, Instant, Name

SnapshotUrl = Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s/]+(/\S*)?$")]
RtspUrl = Annotated[str, Field(max_length=500, pattern=r"^rtsps?://[^\s/]+(/\S*)?$")]
Credential = Annotated[str, Field(min_length=1, max_length=200)]
Auth = Literal["none", "basic", "digest"]


class CameraIn(BaseModel):
    """A camera 摄像机 at a metering point: its snapshot URL (HTTP or HTTPS, the JPEG
    endpoint IP cameras serve) or an RTSP stream (needs ffmpeg on the center)."""

    model_config = ConfigDict(extra="forbid")
    code: Code
    name: Name
    snapshot_url: SnapshotUrl | None = None
    rtsp_url: RtspUrl | None = None
    auth: Auth = "none"
    username: Credential | None = None
    password: Annotated[str | None, Field(max_length=200, repr=False)] = None
    enabled: bool = True

    @model_validator(mode="after")
    def _reachable(self) -> CameraIn:
        if not self.snapshot_url and not self.rtsp_url:
            raise ValueError("a snapshot_url or an rtsp_url is required")
        if self.auth != "none" and not self.username:
            raise ValueError(f"{self.auth} authentication needs a username")
        return self


class CameraOut(BaseModel):
    id: int
    mine: str
    point: str
    code: str
    name: str
    snapshot_url: str | None
    rtsp_url: str | None
    auth: str
    username: str | None
    enabled: bool
    #: unknown, ok, down, black or frozen (the last check)
    health: str
    last_checked_at: Instant | None
    last_seen_at: Instant | None
    last_snapshot_at: Instant | None
    last_error: str | None


class CameraList(BaseModel):
    items: list[CameraOut]


class SnapshotOut(BaseModel):
    id: int
    mine: str
    point: str
    camera: str
    taken_at: Instant
    #: periodic or alarm
    reason: str
    alarm_id: int | None
    health: str
    width: int
    height: int
    size: int
    #: the text burned into the picture, line by line
    overlay: list[str]
    #: where the JPEG is (API)
    image: str


class SnapshotList(BaseModel):
    items: list[SnapshotOut]
