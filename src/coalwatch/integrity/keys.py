"""The center's own Ed25519 key: it signs the audit checkpoints (and, with an upstream
center, the messages forwarded to it)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from coalwatch.config import Settings
from coalwatch.wire.signing import generate_private_key, load_private_key_pem, private_key_pem

KEY_FILE = "center_key.pem"


def key_path(settings: Settings) -> Path:
    """``center_key_file`` when set, else ``var/center_key.pem``."""
    if settings.center_key_file is not None:
        return settings.center_key_file
    return Path(settings.var_dir) / KEY_FILE


def center_key(settings: Settings, *, create: bool = True) -> Ed25519PrivateKey | None:
    """The key, created (mode 0600) the first time when ``create``; None when there is
    none and it may not be created."""
    path = key_path(settings)
    if path.exists():
        return load_private_key_pem(path.read_bytes())
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_private_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return load_private_key_pem(path.read_bytes())
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_key_pem(key))
    return key
