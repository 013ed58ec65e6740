"""Pictures as the checks and the archive need them: decoded, measured (mean luminance,
a small fingerprint to compare frames), and with the weighing data burned in 叠加.

The text is drawn with a CJK font the install provides (Noto Sans CJK, from the
``fonts-noto-cjk`` package); without one, Pillow's own font draws what it can and a
warning says why the Chinese is missing.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat, UnidentifiedImageError

from coalwatch.video.capture import CaptureError

log = logging.getLogger("coalwatch.video")

#: the fingerprint's size: enough to see a belt move, small enough to keep in the row
FINGERPRINT = (64, 36)
MAX_PIXELS = 40_000_000
KNOWN_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
#: the face of Noto Sans CJK's collection that draws Simplified Chinese
SC_FACE = 2
BAND_COLOUR = (16, 16, 16)
TEXT_COLOUR = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Frame:
    image: Image.Image
    #: mean luminance, 0 (black) to 255 (white)
    luminance: float
    #: a small grey copy, to compare with the next frame
    fingerprint: bytes


def decode(data: bytes) -> Frame:
    """A camera's answer as a picture; CaptureError when it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise CaptureError(f"picture of {opened.width}×{opened.height} is too large")
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CaptureError(f"the camera's answer is not a picture ({exc})") from exc
    grey = image.convert("L").resize(FINGERPRINT, Image.Resampling.BILINEAR)
    return Frame(image, float(ImageStat.Stat(grey).mean[0]), grey.tobytes())


def difference(a: bytes, b: bytes) -> float | None:
    """Mean absolute difference (0–255) of two fingerprints; None if not comparable."""
    if len(a) != len(b) or not a:
        return None
    first = Image.frombytes("L", FINGERPRINT, a)
    second = Image.frombytes("L", FINGERPRINT, b)
    return float(ImageStat.Stat(ImageChops.difference(first, second)).mean[0])


def _fc_match() -> tuple[Path, int] | None:
    binary = shutil.which("fc-match")
    if binary is None:
        return None
    try:
        found = subprocess.run(
            [binary, "-f", "%{file}|%{index}", ":lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = found.partition("|")
    if not path or not Path(path).is_file():
        return None
    return Path(path), int(index) if index.isdigit() else 0


@cache
def cjk_font_file() -> tuple[Path, int] | None:
    """A font with the Chinese glyphs: the known Noto path, else what fontconfig says."""
    for path in KNOWN_FONTS:
        if path.is_file():
            return path, SC_FACE if "NotoSansCJK" in path.name else 0
    return _fc_match()


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    found = cjk_font_file()
    if found is not None:
        try:
            return ImageFont.truetype(str(found[0]), size, index=found[1])
        except OSError:
            log.warning("the CJK font %s cannot be read", found[0])
    log.warning(
        "no CJK font found (install fonts-noto-cjk): picture overlays lack Chinese characters"
    )
    return ImageFont.load_default(size)


def band(lines: list[str], width: int) -> Image.Image:
    """The overlay band alone: the lines on an opaque strip as wide as the picture."""
    size = max(12, width // 40)
    face = font(size)
    step = size * 13 // 10
    pad = size // 2
    strip = Image.new("RGB", (width, step * len(lines) + 2 * pad), BAND_COLOUR)
    draw = ImageDraw.Draw(strip)
    for row, line in enumerate(lines):
        draw.text((pad, pad + row * step), line, font=face, fill=TEXT_COLOUR)
    return strip


def burn(image: Image.Image, lines: list[str]) -> Image.Image:
    """A copy of the picture with the band over its bottom."""
    out = image.copy()
    strip = band(lines, out.width)
    out.paste(strip, (0, out.height - strip.height))
    return out


def band_box(image: Image.Image, lines: list[str]) -> tuple[int, int, int, int]:
    """Where :func:`burn` puts the band on this picture (left, top, right, bottom)."""
    height = band(lines, image.width).height
    return (0, image.height - height, image.width, image.height)


def jpeg(image: Image.Image, comment: str = "", quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, comment=comment.encode("utf-8"))
    return out.getvalue()


def placeholder(lines: list[str], width: int = 640, height: int = 360) -> bytes:
    """A grey picture saying why there is none (no signal)."""
    image = Image.new("RGB", (width, height), (60, 60, 64))
    draw = ImageDraw.Draw(image)
    face = font(28)
    for row, line in enumerate(lines):
        draw.text((30, height // 2 - 40 + row * 40), line, font=face, fill=(220, 220, 220))
    return jpeg(image)
