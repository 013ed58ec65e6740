"""The key that signs session cookies: from settings, or generated once and kept."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from coalwatch.config import Settings

SECRET_FILE = "secret_key"


def session_secret(settings: Settings) -> str:
    """``COALWATCH_SECRET_KEY``, else ``var/secret_key`` (created with mode 0600 the first
    time), so that sessions survive a restart."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.var_dir) / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
