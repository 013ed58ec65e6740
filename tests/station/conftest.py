"""No station test leaves a thread behind (the habit of pymodbus' own test suite); a real
center for the tests that upload."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from coalwatch.wire.signing import public_key_b64
from tests.support.world import World, world


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"threads left behind: {[t.name for t in left]}"


class CenterTransport:
    """The uploader's transport into a real center (the app in process): every post is the
    center's own answer; ``closed`` tells whether the uploader closed it."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.closed = False
        self.statuses: list[int] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        response = self.w.client.post(urlsplit(url).path, content=body, headers=headers)
        self.statuses.append(response.status_code)
        return response.status_code, response.content

    def close(self) -> None:
        self.closed = True


@contextmanager
def real_center(url: str, key: Ed25519PrivateKey) -> Iterator[tuple[World, CenterTransport]]:
    """A center with mine M1 (belt B1, skip K1) and station S1 holding ``key``."""
    with world(url) as w:
        w.mine("M1", belts=("B1",), trips=("K1",), station=None, rollover_t="4294967.296")
        w.ok(w.post("/mines/M1/stations", {"code": "S1", "public_key": public_key_b64(key)}))
        yield w, CenterTransport(w)
