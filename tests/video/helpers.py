"""Helpers of the video tests: the snapshot service's settings for tests (pictures under
tmp_path, short intervals), a world with simulated cameras on loopback."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coalwatch.auth.service import create_admin
from coalwatch.config import Settings
from coalwatch.sim.camera import SimCamera
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.video import service
from tests.support.world import World

#: 2026-03-15 12:00 in Asia/Shanghai
NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
PASSWORD = "Watch-2026-pictures"


def video_settings(url: str, directory: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "timezone": "Asia/Shanghai",
        "jobs": False,
        "secret_key": "test-session-key",
        "video_dir": directory,
        "video_interval_running_s": 60,
        "video_interval_standing_s": 600,
        "video_timeout_s": 2,
        **overrides,
    }
    return Settings(**values)


@dataclass
class VideoWorld:
    world: World
    settings: Settings
    cameras: list[SimCamera] = field(default_factory=list)

    def camera(self, label: str = "", **kwargs: Any) -> SimCamera:
        camera = SimCamera(label, **kwargs).start()
        self.cameras.append(camera)
        return camera

    def register(
        self, camera: SimCamera, code: str = "C1", point: str = "B1", mine: str = "M1", **extra: Any
    ) -> dict[str, Any]:
        body = {"code": code, "name": f"{point} 摄像机", "snapshot_url": camera.snapshot_url}
        if camera.auth != "none":
            body |= {"auth": camera.auth, "username": camera.username, "password": camera.password}
        answer: dict[str, Any] = self.world.ok(
            self.world.post(f"/mines/{mine}/points/{point}/cameras", body | extra)
        )
        return answer

    def poll(self, **overrides: Any) -> service.Round:
        state = self.world.client.app.state.coalwatch  # type: ignore[attr-defined]
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return service.poll(state.sessions, settings, self.world.clock(), state.broker)

    def snapshots(self, point: str = "B1", mine: str = "M1", **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.world.ok(
            self.world.get(f"/mines/{mine}/points/{point}/snapshots", **params)
        )["items"]
        return items

    def sign_in(self) -> str:
        """An administrator signed in on the world's client; the CSRF token."""
        engine = make_engine(self.world.url)
        with transaction(make_sessionmaker(engine)) as session:
            create_admin(session, "admin", PASSWORD, self.world.clock())
        engine.dispose()
        client = self.world.client
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        page = client.get("/video/live")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text[:500]
        return csrf.group(1)
