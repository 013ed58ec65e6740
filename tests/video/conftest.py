"""A center with the snapshot service configured for tests, and simulated cameras."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from coalwatch.config import Settings
from coalwatch.web.app import create_app
from tests.support.world import Clock, World
from tests.video.helpers import NOW, VideoWorld, video_settings


def _world(url: str, settings: Settings) -> Iterator[World]:
    clock = Clock(NOW)
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        w = World(client=client, clock=clock, token="", url=url)
        w.token = w.token_for(None, write=True)
        yield w
    app.state.coalwatch.sessions.kw["bind"].dispose()


@pytest.fixture
def make_video(database_url: str, tmp_path: Path) -> Iterator[Callable[..., VideoWorld]]:
    worlds: list[tuple[Iterator[World], VideoWorld]] = []

    def make(**overrides: Any) -> VideoWorld:
        settings = video_settings(database_url, tmp_path / "snapshots", **overrides)
        running = _world(database_url, settings)
        video = VideoWorld(next(running), settings)
        worlds.append((running, video))
        return video

    yield make
    for running, video in worlds:
        for camera in video.cameras:
            camera.stop()
        next(running, None)


@pytest.fixture
def video(make_video: Callable[..., VideoWorld]) -> VideoWorld:
    return make_video()
