"""Registering cameras (API and form), what is refused, and the pages: the live view,
the playback, the pictures of an alarm. On SQLite (the snapshots' storage is tested on both
databases in test_snapshots.py)."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import SQLITE_ONLY
from tests.support.world import World
from tests.video.helpers import VideoWorld

# registering and showing cameras: the same on either database
pytestmark = SQLITE_ONLY


def _mine(video: VideoWorld) -> World:
    w = video.world
    w.mine("M1")
    return w


def test_a_camera_is_registered_and_bad_ones_are_refused(video: VideoWorld) -> None:
    w = _mine(video)
    base = "/mines/M1/points/B1/cameras"
    url = "http://127.0.0.1:9/snapshot.jpg"
    made = w.ok(w.post(base, {"code": "C1", "name": "机头", "snapshot_url": url}))
    assert (made["health"], made["auth"], made["point"]) == ("unknown", "none", "B1")
    assert w.post(base, {"code": "C1", "name": "again", "snapshot_url": url}).status_code == 409
    assert w.post(base, {"code": "C2", "name": "no address"}).status_code == 422
    no_user = {"code": "C2", "name": "x", "snapshot_url": url, "auth": "digest"}
    assert w.post(base, no_user).status_code == 422
    ftp = {"code": "C2", "name": "x", "snapshot_url": "ftp://127.0.0.1/x.jpg"}
    assert w.post(base, ftp).status_code == 422
    unknown = {"code": "C2", "name": "x", "snapshot_url": url}
    assert w.post("/mines/M1/points/NOPE/cameras", unknown).status_code == 404
    assert w.post("/mines/NOPE/points/B1/cameras", unknown).status_code == 404
    read_only = w.token_for(None, write=False)
    assert w.post(base, unknown, token=read_only).status_code == 403
    assert [c["code"] for c in w.ok(w.get(base, token=read_only))["items"]] == ["C1"]
    assert w.get("/snapshots/999/image").status_code == 404
    assert w.get("/alarms/999/snapshots").status_code == 404


def test_an_rtsp_camera_without_ffmpeg_is_reported_down(
    video: VideoWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a center where ffmpeg is not installed
    w = _mine(video)
    stream = {"code": "R1", "name": "RTSP", "rtsp_url": "rtsp://127.0.0.1:9/stream"}
    w.ok(w.post("/mines/M1/points/B1/cameras", stream))
    video.poll()
    [camera] = w.ok(w.get("/mines/M1/points/B1/cameras"))["items"]
    assert camera["health"] == "down" and "needs ffmpeg" in camera["last_error"]
    [alarm] = w.alarms(type="camera_fault")
    assert alarm["value"] == "down"


def test_an_rtsp_camera_nobody_answers_is_reported_down_by_ffmpeg(video: VideoWorld) -> None:
    assert shutil.which("ffmpeg"), "ffmpeg is missing: `make browser` installs it"
    w = _mine(video)
    stream = {"code": "R1", "name": "RTSP", "rtsp_url": "rtsp://127.0.0.1:9/stream"}
    w.ok(w.post("/mines/M1/points/B1/cameras", stream))
    video.poll()
    [camera] = w.ok(w.get("/mines/M1/points/B1/cameras"))["items"]
    # ffmpeg ran and said why it got no frame (nothing listens on port 9)
    assert camera["health"] == "down" and camera["last_error"].startswith("ffmpeg"), camera
    assert "needs ffmpeg" not in camera["last_error"]
    [alarm] = w.alarms(type="camera_fault")
    assert alarm["value"] == "down"


def _jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def test_the_pages_show_live_pictures_the_archive_and_an_alarms_pictures(
    video: VideoWorld,
) -> None:
    w = _mine(video)
    csrf = video.sign_in()
    client = w.client
    camera = video.camera("LIVE", auth="basic", username="admin", password="pw")
    form = {
        "csrf_token": csrf,
        "point": "B1",
        "code": "C9",
        "name": "机头摄像机",
        "snapshot_url": camera.snapshot_url,
        "auth": "basic",
        "username": "admin",
        "password": "pw",
    }
    page = client.post("/video/M1/cameras", data=form)
    assert page.status_code == 200 and "摄像机已登记" in page.text

    page = client.get("/video/live?mine=M1")
    found = re.search(r'id="camera-(\d+)"', page.text)
    assert found and 'hx-trigger="every 5s"' in page.text and "机头摄像机" in page.text
    camera_id = found.group(1)
    assert client.get(f"/video/cameras/{camera_id}/tile").status_code == 200
    live = client.get(f"/video/cameras/{camera_id}/live.jpg")
    assert live.status_code == 200 and live.headers["cache-control"] == "no-store"
    assert _jpeg(live.content).size == (640, 360)
    camera.set_fault("down")
    placeholder = client.get(f"/video/cameras/{camera_id}/live.jpg")  # 无信号
    assert placeholder.status_code == 200 and _jpeg(placeholder.content).size == (640, 360)
    camera.set_fault(None)

    video.poll()
    w.clock.advance(seconds=30)
    [seq] = w.stations["S1"].seqs(1)
    event = {"seq": seq, "ts": w.clock(), "type": "event", "point": "B1"}
    w.ok(w.upload("S1", [event | {"event": "device_fault"}]))
    video.poll()
    pictures = video.snapshots()
    assert [p["reason"] for p in pictures] == ["periodic", "alarm"]

    page = client.get("/video/playback?mine=M1&point=B1&day=2026-03-15")
    assert page.status_code == 200
    for picture in pictures:
        assert f"/video/snapshots/{picture['id']}.jpg" in page.text
    image = client.get(f"/video/snapshots/{pictures[0]['id']}.jpg")
    assert image.status_code == 200 and _jpeg(image.content).size == (640, 360)
    assert client.get("/video/snapshots/99999.jpg").status_code == 404

    alarm_id = pictures[1]["alarm_id"]
    console = client.get("/alarms")
    assert f'href="/video/alarms/{alarm_id}"' in console.text
    page = client.get(f"/video/alarms/{alarm_id}")
    assert page.status_code == 200 and "相关图像" in page.text
    assert all(f"/video/snapshots/{p['id']}.jpg" in page.text for p in pictures)
