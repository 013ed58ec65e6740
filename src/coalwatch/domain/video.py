"""Video at the metering points 视频监视: when to take a picture, whether a camera is
healthy, and which stored pictures retention removes.

A camera 摄像机 watches each metering instrument day and night. The center takes a
snapshot every few seconds while the conveyor runs, less often while it stands, and
at every alarm of the point. A camera is faulty 摄像机故障 when it does not answer,
when its picture is black (low mean luminance), or when its picture is frozen: the
same frame again and again while the conveyor runs, when the belt must move. No I/O
here: the pictures' measures (luminance, difference) are computed by the adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Health(StrEnum):
    """A camera's state as the last check found it."""

    UNKNOWN = "unknown"
    OK = "ok"
    #: no answer, an error status, or not a picture
    DOWN = "down"
    #: mean luminance below the threshold (lens covered, lights out, sensor dead)
    BLACK = "black"
    #: near-identical frames while the conveyor runs (the picture hangs)
    FROZEN = "frozen"


#: what a fault shows to people (gettext message ids: the pages translate them)
HEALTH_LABELS: dict[Health, str] = {
    Health.DOWN: "摄像机无应答",
    Health.BLACK: "画面黑屏",
    Health.FROZEN: "输煤设备运行时画面冻结",
}


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """The settings the checks use (config: ``video_*``)."""

    #: a picture whose mean luminance (0–255) is below this is black
    black_luminance: float = 16.0
    #: two frames whose mean absolute difference (0–255) is below this are the same
    frozen_difference: float = 0.5
    #: unchanged frames in a row, while the conveyor runs, that make the picture frozen
    frozen_repeats: int = 3


@dataclass(frozen=True, slots=True)
class Check:
    """What one look at a camera found, and how many unchanged frames are in a row now."""

    health: Health
    unchanged: int


def snapshot_due(
    last: datetime | None,
    now: datetime,
    running: bool,
    every_running: timedelta,
    every_standing: timedelta,
) -> bool:
    """A periodic snapshot is due: never taken, or the interval for the conveyor's state
    (running: often; standing or unknown: seldom) has passed since the last one."""
    if last is None:
        return True
    return now - last >= (every_running if running else every_standing)


def check_due(last: datetime | None, now: datetime, every: timedelta) -> bool:
    """A health check is due (between snapshots, so that a standing belt's camera is
    watched too): never checked, or ``every`` has passed since the last look."""
    return last is None or now - last >= every


def check(
    *,
    answered: bool,
    luminance: float | None,
    difference: float | None,
    running: bool,
    unchanged: int,
    previous: Health,
    limits: VideoLimits,
) -> Check:
    """Judge one look at a camera.

    ``difference`` is the mean absolute difference to the previous frame (None: there
    is none). A standing belt looks the same from frame to frame, so unchanged frames
    count only while the conveyor runs; a frozen picture stays frozen until a changed
    frame arrives.
    """
    if not answered or luminance is None:
        return Check(Health.DOWN, unchanged)
    if luminance < limits.black_luminance:
        return Check(Health.BLACK, 0)
    if difference is None or difference >= limits.frozen_difference:
        return Check(Health.OK, 0)
    if not running:
        return Check(Health.FROZEN if previous is Health.FROZEN else Health.OK, unchanged)
    repeated = unchanged + 1
    # n unchanged comparisons in a row are n + 1 identical frames
    frozen = repeated + 1 >= limits.frozen_repeats
    return Check(Health.FROZEN if frozen else Health.OK, repeated)


def faulty(health: Health) -> bool:
    return health in (Health.DOWN, Health.BLACK, Health.FROZEN)


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored picture, as retention sees it."""

    id: int
    taken_at: datetime
    size: int


def to_delete(
    oldest_first: Sequence[Stored], total_bytes: int, cutoff: datetime, quota_bytes: int
) -> list[int]:
    """The pictures retention removes, oldest first: every one taken before ``cutoff``
    (the age limit), then more of the oldest until the rest fit in ``quota_bytes``.

    ``oldest_first`` is the start of the store in order of time; ``total_bytes`` is the
    whole store's size.
    """
    chosen: list[int] = []
    remaining = total_bytes
    for item in oldest_first:
        if item.taken_at >= cutoff and remaining <= quota_bytes:
            break
        chosen.append(item.id)
        remaining -= item.size
    return chosen
