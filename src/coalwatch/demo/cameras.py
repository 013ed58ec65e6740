"""The demo's cameras: one simulated IP camera per demo point, on loopback, registered at
the center, so that 视频监视 shows live pictures (faults can be switched at
``<camera>/control?fault=down|black|frozen|none``)."""

from __future__ import annotations

import shutil
from datetime import datetime

from coalwatch.auth.principal import OPERATOR
from coalwatch.config import Settings
from coalwatch.demo.region import BELT, SKIP, MineSpec
from coalwatch.sim.camera import SimCamera
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.video import service
from coalwatch.video.schemas import CameraIn

#: the demo's pictures, apart from a configured video_dir (emptied at every start)
DEMO_SNAPSHOTS = "demo-snapshots"
#: the demo takes a picture this often while a belt runs
DEMO_INTERVAL_S = 10.0


def demo_video_settings(settings: Settings) -> Settings:
    """Pictures in var/demo-snapshots (fresh), taken every 10 s while a belt runs; every
    camera checked every 10 s."""
    directory = settings.var_dir / DEMO_SNAPSHOTS
    shutil.rmtree(directory, ignore_errors=True)
    return settings.model_copy(
        update={
            "video_dir": directory,
            "video_interval_running_s": min(settings.video_interval_running_s, DEMO_INTERVAL_S),
            "video_check_interval_s": min(settings.video_check_interval_s, DEMO_INTERVAL_S),
        }
    )


def start_cameras(
    settings: Settings, mines: list[MineSpec], now: datetime
) -> list[tuple[str, SimCamera]]:
    """A camera per point, registered; (mine/point, camera) to print and to stop."""
    started: list[tuple[str, SimCamera]] = []
    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            for spec in mines:
                points = [(BELT, "主斜井皮带秤")] + (
                    [(SKIP, "主立井箕斗")] if spec.has_skip else []
                )
                for code, name in points:
                    camera = SimCamera(f"{spec.code}/{code}").start()
                    started.append((f"{spec.code}/{code}", camera))
                    data = CameraIn(
                        code="CAM1", name=f"{name}摄像机", snapshot_url=camera.snapshot_url
                    )
                    service.register_camera(session, OPERATOR, spec.code, code, data, now)
    except BaseException:
        stop_cameras(started)
        raise
    finally:
        engine.dispose()
    return started


def stop_cameras(cameras: list[tuple[str, SimCamera]]) -> None:
    for _, camera in cameras:
        camera.stop()


def camera_lines(cameras: list[tuple[str, SimCamera]], limit: int = 4) -> str:
    lines = [f"  {where}  {camera.url}/control?fault=black" for where, camera in cameras[:limit]]
    if len(cameras) > limit:
        lines.append(f"  ... ({len(cameras)} 台 / cameras)")
    return "\n".join(lines)
