"""What a camera costs the center: one picture's work (fetch from a simulated camera on
loopback, decode, fingerprint, burn in the overlay, encode), and whole rounds of the
snapshot service over many cameras on a fresh SQLite database.

    .venv/bin/python bench/video_snapshots.py [--cameras 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coalwatch.auth.principal import OPERATOR
from coalwatch.config import Settings
from coalwatch.mines.schemas import MineIn, PointIn
from coalwatch.mines.service import create_mine, create_point
from coalwatch.orgs.schemas import OrgIn
from coalwatch.orgs.service import create_org
from coalwatch.sim.camera import SimCamera
from coalwatch.storage import migrate
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.video import capture, overlay, service
from coalwatch.video.schemas import CameraIn

LINES = [
    "2026-03-15 12:00:00 UTC+08:00  东坡煤矿 (M1)",
    "主斜井皮带秤 (B1) · 机头",
    "瞬时流量 1.0 t/h",
]


def one_picture(samples: int) -> None:
    with SimCamera("BENCH") as camera:
        source = capture.Source(camera.snapshot_url)
        fetch, work = [], []
        for _ in range(samples):
            begun = time.perf_counter()
            data = capture.fetch(source, 5)
            fetched = time.perf_counter()
            overlay.jpeg(overlay.burn(overlay.decode(data).image, LINES))
            fetch.append(fetched - begun)
            work.append(time.perf_counter() - fetched)
    print(
        f"one picture (640×360): fetch {statistics.median(fetch) * 1000:.1f} ms, "
        f"decode + overlay + encode {statistics.median(work) * 1000:.1f} ms (medians)"
    )


def rounds(cameras: int, count: int) -> None:
    now = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", video_dir=Path(tmp) / "pictures"
        )
        engine = make_engine(settings.resolved_database_url)
        migrate.upgrade(engine)
        sessions = make_sessionmaker(engine)
        sims = [SimCamera(f"C{i}").start() for i in range(cameras)]
        try:
            with transaction(sessions) as session:
                create_org(session, OPERATOR, OrgIn(code="C1", name="县", kind="county"), now)
                mine = MineIn(code="M1", name="矿", org="C1", annual_capacity_t=900000)
                create_mine(session, OPERATOR, mine, "Asia/Shanghai", now)
                for i, sim in enumerate(sims):
                    point = PointIn(code=f"B{i}", name=f"皮带秤 {i}", kind="belt")
                    create_point(session, OPERATOR, "M1", point, now)
                    data = CameraIn(code="C1", name="cam", snapshot_url=sim.snapshot_url)
                    service.register_camera(session, OPERATOR, "M1", f"B{i}", data, now)
            took = []
            for n in range(count):
                begun = time.perf_counter()
                done = service.poll(sessions, settings, now + timedelta(minutes=10 * n))
                took.append(time.perf_counter() - begun)
                assert done.stored == cameras, done
        finally:
            for sim in sims:
                sim.stop()
            engine.dispose()
    best = min(took)
    print(
        f"a round of {cameras} cameras: {best:.2f} s (best of {count}), "
        f"{cameras / best:.0f} pictures/s stored"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    one_picture(30)
    rounds(args.cameras, args.rounds)


if __name__ == "__main__":
    main()
