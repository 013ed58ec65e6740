"""The simulated camera: a real HTTP server on loopback serving a moving belt, behind
Basic or Digest authentication, with faults switched at run time."""

from __future__ import annotations

import io
import threading

import httpx
import pytest
from PIL import Image

from coalwatch.sim.camera import Fault, SimCamera
from coalwatch.video.overlay import decode, difference


def _get(url: str, auth: httpx.Auth | None = None) -> httpx.Response:
    with httpx.Client(timeout=2, trust_env=False) as client:
        return client.get(url, auth=auth)


def test_the_camera_serves_a_moving_belt() -> None:
    with SimCamera("CAM") as camera:
        first, second = _get(camera.snapshot_url), _get(camera.snapshot_url)
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(first.content))
    assert image.format == "JPEG" and image.size == (640, 360)
    a, b = decode(first.content), decode(second.content)
    moved = difference(a.fingerprint, b.fingerprint)
    assert moved is not None and moved > 2  # the belt moved between the pictures
    assert camera.frames == 2


def test_digest_authentication_is_asked_and_checked() -> None:
    with SimCamera(auth="digest", username="admin", password="s3cret") as camera:
        assert _get(camera.snapshot_url).status_code == 401
        assert _get(camera.snapshot_url, httpx.DigestAuth("admin", "wrong")).status_code == 401
        answer = _get(camera.snapshot_url, httpx.DigestAuth("admin", "s3cret"))
    assert answer.status_code == 200


def test_basic_authentication_is_checked() -> None:
    with SimCamera(auth="basic", username="admin", password="s3cret") as camera:
        assert _get(camera.snapshot_url).status_code == 401
        assert _get(camera.snapshot_url, httpx.BasicAuth("admin", "s3cret")).status_code == 200


def test_faults_switch_at_run_time() -> None:
    with SimCamera() as camera:
        good = _get(camera.snapshot_url).content
        camera.set_fault(Fault.FROZEN)
        assert _get(camera.snapshot_url).content == good
        assert _get(camera.snapshot_url).content == good
        camera.set_fault(Fault.BLACK)
        assert decode(_get(camera.snapshot_url).content).luminance < 10
        camera.set_fault(Fault.DOWN)
        with pytest.raises(httpx.RemoteProtocolError):
            _get(camera.snapshot_url)
        camera.set_fault(None)
        assert decode(_get(camera.snapshot_url).content).luminance > 40


def test_the_control_endpoint_switches_faults() -> None:
    with SimCamera() as camera:
        assert _get(f"{camera.url}/control?fault=black").status_code == 200
        assert camera.fault is Fault.BLACK
        assert _get(f"{camera.url}/control?fault=sideways").status_code == 400
        assert _get(f"{camera.url}/control?fault=none").status_code == 200
        assert camera.fault is None


def test_stopping_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    camera = SimCamera().start()
    _get(camera.snapshot_url)
    camera.stop()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
