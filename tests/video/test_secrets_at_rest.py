"""A camera's password is stored encrypted, and the snapshot service still signs in with
it (the simulated camera on loopback checks HTTP digest authentication)."""

from __future__ import annotations

from sqlalchemy import text

from coalwatch.storage.session import make_engine
from tests.video.helpers import VideoWorld
from tests.video.test_snapshots import running_mine

PASSWORD = "cam-pass-7Q2x"


def test_a_cameras_password_is_encrypted_at_rest_and_still_used(video: VideoWorld) -> None:
    running_mine(video)
    camera = video.camera("CAM-B1", auth="digest", username="admin", password=PASSWORD)
    video.register(camera)
    engine = make_engine(video.world.url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT password FROM cameras")).scalar_one()
    engine.dispose()
    assert PASSWORD not in stored and stored.startswith("enc:v1:")
    assert video.poll().stored == 1
    [snapshot] = video.snapshots()
    assert snapshot["health"] == "ok"
