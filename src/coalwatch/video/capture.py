"""Getting one picture from a camera: the HTTP(S) snapshot endpoint every IP camera
serves (with Basic or Digest authentication), or one frame of an RTSP stream through
ffmpeg where it is installed."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass

import httpx

#: httpx logs every request at INFO: a line per camera every few seconds is noise
logging.getLogger("httpx").setLevel(logging.WARNING)

#: a snapshot larger than this is refused (a camera's JPEG is far smaller)
MAX_BYTES = 20 * 1024 * 1024


class CaptureError(Exception):
    """The camera did not give a picture (down, refused, timed out, not a picture)."""


@dataclass(frozen=True, slots=True)
class Source:
    snapshot_url: str | None
    rtsp_url: str | None = None
    auth: str = "none"
    username: str | None = None
    password: str | None = None


def ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def fetch(source: Source, timeout_s: float) -> bytes:
    """The camera's current picture (bytes as it sent them); CaptureError when none."""
    if source.snapshot_url:
        return _http(source, timeout_s)
    if source.rtsp_url:
        return _rtsp(source.rtsp_url, timeout_s)
    raise CaptureError("the camera has neither a snapshot URL nor an RTSP URL")


def _http(source: Source, timeout_s: float) -> bytes:
    assert source.snapshot_url is not None
    auth: httpx.Auth | None = None
    if source.auth == "basic":
        auth = httpx.BasicAuth(source.username or "", source.password or "")
    elif source.auth == "digest":
        auth = httpx.DigestAuth(source.username or "", source.password or "")
    try:
        with (
            httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=True) as client,
            client.stream("GET", source.snapshot_url, auth=auth) as response,
        ):
            if response.status_code != 200:
                raise CaptureError(f"HTTP {response.status_code} from the snapshot URL")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise CaptureError(f"the snapshot is larger than {MAX_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise CaptureError(f"{type(exc).__name__}: {exc or 'no answer'}") from exc


def _rtsp(url: str, timeout_s: float) -> bytes:
    binary = ffmpeg()
    if binary is None:
        raise CaptureError("an RTSP camera needs ffmpeg, which is not installed")
    command = [
        binary,
        "-nostdin",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        "-i",
        url,
        "-frames:v",
        "1",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "pipe:1",
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s + 5, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CaptureError("ffmpeg got no frame in time") from exc
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode(errors="replace").strip()[-300:]
        raise CaptureError(f"ffmpeg: {message or 'no frame'}")
    return done.stdout
