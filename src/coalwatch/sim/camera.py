"""A simulated IP camera: an HTTP server on loopback serving JPEG snapshots of a moving
belt, the way an IP camera's snapshot endpoint does, with faults switchable at run time.

- ``GET /snapshot.jpg``: the current picture (each request moves the belt on), behind
  optional HTTP Basic or Digest authentication as real cameras have it;
- ``GET /control?fault=down|black|frozen|none``: switch a fault (the demo's handle;
  tests use :meth:`SimCamera.set_fault`).

Faults: ``down`` closes every connection without an answer, ``black`` serves a dark
picture, ``frozen`` serves the same picture again and again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
import random
import secrets
import threading
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

log = logging.getLogger("coalwatch.sim.camera")

WIDTH, HEIGHT = 640, 360
#: pixels the belt moves between two pictures
STEP_PX = 23
LUMP_SPACING = 60
REALM = "coalwatch-sim"


class Fault(StrEnum):
    DOWN = "down"
    BLACK = "black"
    FROZEN = "frozen"


def belt_frame(frame: int, label: str = "", width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """Picture ``frame`` of a belt conveyor carrying coal, as a JPEG."""
    image = Image.new("RGB", (width, height), (78, 82, 88))
    draw = ImageDraw.Draw(image)
    for y in range(0, height // 3, 6):  # the gallery's wall, lit from above
        shade = 120 - y // 2
        draw.line([(0, y), (width, y)], fill=(shade, shade, shade + 6), width=6)
    top, bottom = height * 38 // 100, height * 72 // 100  # above the overlay band
    draw.polygon(
        [(0, top), (width, top - 30), (width, bottom - 10), (0, bottom)], fill=(118, 116, 110)
    )
    offset = frame * STEP_PX
    for x in range(-LUMP_SPACING, width + LUMP_SPACING, 40):  # the rollers' shadows
        rx = (x - offset // 3) % (width + 40) - 20
        draw.line([(rx, bottom + 4), (rx + 10, bottom + 24)], fill=(50, 50, 54), width=5)
    for index in range(-2, width // LUMP_SPACING + 3):
        lump = (frame * STEP_PX) // LUMP_SPACING + index
        rng = random.Random(lump)  # one lump keeps its shape as it travels
        x = index * LUMP_SPACING - (offset % LUMP_SPACING) + rng.randint(-15, 15)
        y = (top + bottom) // 2 - 10 - x * 30 // width + rng.randint(-25, 25)
        size = rng.randint(22, 44)
        tone = rng.randint(8, 30)
        draw.ellipse([x, y, x + size * 3 // 2, y + size], fill=(tone, tone, tone + 4))
    if label:
        draw.text((10, 10), label, fill=(230, 230, 230))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def black_frame(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A covered lens: almost black, with a little sensor noise."""
    image = Image.effect_noise((width, height), 3).point(lambda v: v // 20).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # HTTP Digest is MD5


def _digest_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in header.split(",")[:20]:
        key, _, value = part.strip().partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return params


class SimCamera:
    """One simulated camera on 127.0.0.1 (a free port), until :meth:`stop`."""

    def __init__(
        self,
        label: str = "",
        *,
        auth: str = "none",
        username: str = "admin",
        password: str = "",
    ) -> None:
        if auth not in ("none", "basic", "digest"):
            raise ValueError(f"unknown authentication {auth!r}")
        self.label, self.auth, self.username, self.password = label, auth, username, password
        self.fault: Fault | None = None
        #: snapshots served (the belt's position)
        self.frames = 0
        self._last: bytes | None = None
        self._lock = threading.Lock()
        self._nonce = secrets.token_hex(16)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- the Python handle ---------------------------------------------------------------

    def set_fault(self, fault: Fault | str | None) -> None:
        self.fault = Fault(fault) if fault else None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the camera is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def snapshot_url(self) -> str:
        return f"{self.url}/snapshot.jpg"

    def start(self) -> SimCamera:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                camera._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sim-camera-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SimCamera:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- HTTP ----------------------------------------------------------------------------

    def picture(self) -> bytes:
        """The next picture as the current fault makes it."""
        with self._lock:
            if self.fault is Fault.FROZEN and self._last is not None:
                return self._last
            if self.fault is Fault.BLACK:
                return black_frame()
            self.frames += 1
            self._last = belt_frame(self.frames, self.label)
            return self._last

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        if url.path == "/control":
            wanted = parse_qs(url.query).get("fault", [""])[0]
            if wanted not in ("", "none", *Fault):
                self._send(handler, 400, b"fault: down, black, frozen or none\n", "text/plain")
                return
            self.set_fault(None if wanted in ("", "none") else wanted)
            self._send(handler, 200, f"fault: {self.fault or 'none'}\n".encode(), "text/plain")
            return
        if url.path not in ("/snapshot.jpg", "/cgi-bin/snapshot.cgi", "/ISAPI/Streaming/picture"):
            self._send(handler, 404, b"not found\n", "text/plain")
            return
        if self.fault is Fault.DOWN:
            handler.close_connection = True  # says nothing: a dead camera
            return
        if not self._authorised(handler):
            return
        self._send(handler, 200, self.picture(), "image/jpeg")

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        if self.auth == "none":
            return True
        given = handler.headers.get("Authorization", "")
        if self.auth == "basic":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if hmac.compare_digest(given, f"Basic {expected}"):
                return True
            challenge = f'Basic realm="{REALM}"'
        else:
            if given.startswith("Digest ") and self._digest_ok(handler, given[7:]):
                return True
            challenge = f'Digest realm="{REALM}", nonce="{self._nonce}", qop="auth", algorithm=MD5'
        handler.send_response(401)
        handler.send_header("WWW-Authenticate", challenge)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return False

    def _digest_ok(self, handler: BaseHTTPRequestHandler, header: str) -> bool:
        p = _digest_params(header)
        if p.get("username") != self.username or p.get("nonce") != self._nonce:
            return False
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{handler.command}:{p.get('uri', '')}")
        expected = _md5(
            f"{ha1}:{self._nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p.get('qop', '')}:{ha2}"
        )
        return hmac.compare_digest(expected, p.get("response", ""))

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(body)
