"""The snapshot service against simulated cameras on loopback, on SQLite and PostgreSQL:
pictures stored with the overlay (read back and checked), the cadence, each camera fault
raised and ended, retention by age and quota, and an alarm linked to its pictures.
The clock stands at 2026-03-15 12:00:00 in Asia/Shanghai (04:00 UTC)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

from PIL import Image, ImageChops, ImageStat

from coalwatch.jobs.scheduler import run_once
from coalwatch.sim.camera import belt_frame
from coalwatch.video import service
from coalwatch.video.overlay import band, band_box
from tests.support.world import World, totalizer
from tests.video.helpers import NOW, VideoWorld

RUNNING_EVERY = timedelta(seconds=60)


def conveyor(w: World, running: bool, ago: timedelta = timedelta(seconds=10)) -> None:
    [seq] = w.stations["S1"].seqs(1)
    record = {"seq": seq, "ts": w.clock() - ago, "type": "conveyor", "point": "B1"}
    w.ok(w.upload("S1", [record | {"running": running}]))


def running_mine(video: VideoWorld) -> World:
    w = video.world
    w.mine("M1")
    conveyor(w, True, timedelta(minutes=2))
    return w


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(ImageStat.Stat(ImageChops.difference(a, b).convert("L")).mean[0])


def _image(w: World, snapshot: dict[str, Any]) -> Image.Image:
    answer = w.client.get(snapshot["image"], headers=w.headers())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    return Image.open(io.BytesIO(answer.content))


def test_a_snapshot_is_stored_with_the_weighing_data_burned_in(video: VideoWorld) -> None:
    w = video.world
    w.mine("M1")
    seqs = w.stations["S1"].seqs(3)
    w.ok(
        w.upload(
            "S1",
            [
                {"seq": seqs[0], "ts": NOW - timedelta(minutes=2), "type": "conveyor"}
                | {"point": "B1", "running": True},
                totalizer(seqs[1], NOW - timedelta(seconds=60), "B1", "1234.5"),
                totalizer(seqs[2], NOW - timedelta(seconds=30), "B1", "1236.789")
                | {"flow_tph": Decimal("412.46")},
            ],
        )
    )
    camera = video.camera("CAM-B1", auth="digest", username="admin", password="pw-1")
    registered = video.register(camera)
    assert "password" not in registered and registered["auth"] == "digest"

    assert video.poll().stored == 1
    [snapshot] = video.snapshots()
    # 04:00 UTC is 12:00 at UTC+08:00; the flow 412.46 t/h shows half-up to 0.1 t/h as
    # 412.5; the totalizer is the last reading, 1,236.789 t
    assert snapshot["overlay"] == [
        "2026-03-15 12:00:00 UTC+08:00  M1 矿 (M1)",
        "B1 皮带秤 (B1) · B1 摄像机",
        "瞬时流量 412.5 t/h   累计 1,236.789 t   输送机 运行",
    ]
    assert (snapshot["reason"], snapshot["health"], snapshot["camera"]) == ("periodic", "ok", "C1")

    stored = _image(w, snapshot)
    assert stored.info["comment"] == "\n".join(snapshot["overlay"]).encode()
    stored = stored.convert("RGB")
    raw = Image.open(io.BytesIO(belt_frame(1, "CAM-B1"))).convert("RGB")  # what it served
    box = band_box(raw, snapshot["overlay"])
    above = (0, 0, raw.width, box[1])
    # above the band, the camera's picture; in the band, the text rendered (up to JPEG
    # noise), and not some other text
    assert _mean_difference(stored.crop(above), raw.crop(above)) < 3
    assert _mean_difference(stored.crop(box), raw.crop(box)) > 30
    assert _mean_difference(stored.crop(box), band(snapshot["overlay"], raw.width)) < 3
    other = ["2026-03-15 12:09:59 UTC+08:00  X", "Y", "瞬时流量 0.0 t/h   累计 0.000 t"]
    assert _mean_difference(stored.crop(box), band(other, raw.width)) > 6


def test_pictures_come_often_while_the_conveyor_runs_and_seldom_while_it_stands(
    video: VideoWorld,
) -> None:
    w = running_mine(video)
    video.register(video.camera())
    state = w.client.app.state.coalwatch  # type: ignore[attr-defined]
    # a round of the background jobs takes the cameras that are due
    run_once(state.sessions, state.broker, w.clock(), video=service.VideoJob(video.settings))
    assert len(video.snapshots()) == 1
    w.clock.advance(seconds=30)
    assert video.poll().looked == 0  # 30 s < 60 s
    w.clock.advance(seconds=30)
    assert video.poll().stored == 1  # 60 s
    conveyor(w, False)
    w.clock.advance(seconds=60)
    # standing: 60 s < 600 s, no picture kept; but the camera is checked every 60 s
    assert video.poll() == service.Round(looked=1, stored=0, deleted=0)
    w.clock.advance(seconds=30)
    assert video.poll().looked == 0
    w.clock.advance(seconds=510)
    assert video.poll().stored == 1  # 600 s since the last picture
    assert len(video.snapshots()) == 3


def _camera_alarms(w: World) -> list[dict[str, Any]]:
    return w.alarms(type="camera_fault")


def test_each_camera_fault_is_alarmed_and_ends_when_the_camera_recovers(
    video: VideoWorld,
) -> None:
    w = running_mine(video)
    camera = video.camera()
    video.register(camera)
    video.poll()
    # frozen: the first repeat makes 2 identical frames, the second 3 (frozen_repeats)
    for number, (fault, rounds) in enumerate((("down", 1), ("black", 1), ("frozen", 2)), 1):
        camera.set_fault(fault)
        for _ in range(rounds):
            assert all(a["end"] is not None for a in _camera_alarms(w))
            w.clock.advance(seconds=60)
            video.poll()
        alarms = _camera_alarms(w)
        assert len(alarms) == number
        alarm = alarms[0]  # the newest
        assert (alarm["point"], alarm["value"], alarm["end"]) == ("B1", fault, None), fault
        [cam] = w.ok(w.get("/mines/M1/points/B1/cameras"))["items"]
        assert cam["health"] == fault
        opened = w.ok(w.get("/faults"))["items"][0]
        assert opened["kind"] == "camera_fault" and opened["recovered_at"] is None

        camera.set_fault(None)
        w.clock.advance(seconds=60)
        video.poll()
        alarm = _camera_alarms(w)[0]
        assert alarm["end"] is not None, fault
        recovered = w.ok(w.get("/faults"))["items"][0]
        assert recovered["recovered_at"] == alarm["end"]
        [cam] = w.ok(w.get("/mines/M1/points/B1/cameras"))["items"]
        assert cam["health"] == "ok"


def test_a_standing_belt_does_not_look_frozen(video: VideoWorld) -> None:
    w = video.world
    w.mine("M1")
    conveyor(w, False)
    camera = video.camera()
    video.register(camera)
    camera.set_fault("frozen")  # a picture that never changes, as a still belt's
    for _ in range(4):
        video.poll()
        w.clock.advance(seconds=600)
    assert not _camera_alarms(w)


def test_retention_deletes_the_oldest_first_when_the_quota_is_reached(
    video: VideoWorld,
) -> None:
    w = running_mine(video)
    video.register(video.camera())
    for _ in range(4):
        video.poll()
        w.clock.advance(seconds=60)
    pictures = video.snapshots()
    assert len(pictures) == 4
    files = [video.settings.snapshot_dir / p for p in _paths(video)]
    assert all(f.is_file() for f in files)
    # a quota that holds the newest two: s1+s2+s3+s4 > quota, s2+s3+s4 > quota (s2 > 1),
    # s3+s4 ≤ quota: the two oldest go
    quota = pictures[2]["size"] + pictures[3]["size"] + 1
    settings = video.settings.model_copy(update={"video_quota_mb": quota / 1024 / 1024})
    sessions = w.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    assert service.retain(sessions, settings, w.clock()) == 2
    assert [p["id"] for p in video.snapshots()] == [p["id"] for p in pictures[2:]]
    assert [f.is_file() for f in files] == [False, False, True, True]
    gone = w.client.get(pictures[0]["image"], headers=w.headers())
    assert gone.status_code == 404

    # by age: 90 days after the newest picture, none is kept
    assert service.retain(sessions, video.settings, w.clock() + timedelta(days=91)) == 2
    assert video.snapshots() == []


def _paths(video: VideoWorld) -> list[str]:
    from sqlalchemy import select

    from coalwatch.video.models import Snapshot

    sessions = video.world.client.app.state.coalwatch.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        return list(session.scalars(select(Snapshot.path).order_by(Snapshot.taken_at)))


def test_an_alarm_is_linked_to_the_pictures_around_it(video: VideoWorld) -> None:
    w = running_mine(video)
    video.register(video.camera())
    video.poll()  # 12:00:00, periodic
    w.clock.advance(seconds=20)
    [seq] = w.stations["S1"].seqs(1)
    event = {"seq": seq, "ts": w.clock(), "type": "event", "point": "B1"}
    w.ok(w.upload("S1", [event | {"event": "device_fault", "detail": "load cell"}]))
    [alarm] = w.alarms(type="device_fault")
    video.poll()  # 12:00:20: not due periodically, but the point has a new alarm
    w.clock.advance(minutes=10)
    video.poll()  # 12:10:20, periodic: beyond 5 minutes after the alarm
    pictures = video.snapshots()
    assert [(p["reason"], p["alarm_id"]) for p in pictures] == [
        ("periodic", None),
        ("alarm", alarm["id"]),
        ("periodic", None),
    ]
    linked = w.ok(w.get(f"/alarms/{alarm['id']}/snapshots"))["items"]
    assert [p["id"] for p in linked] == [p["id"] for p in pictures[:2]]
