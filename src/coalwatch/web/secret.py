"""The key that signs session cookies (and from which the key of secrets at rest is
derived): from settings, or generated once and kept."""

from __future__ import annotations

from coalwatch.config import Settings
from coalwatch.storage.crypto import SECRET_FILE, secret_key

__all__ = ["SECRET_FILE", "session_secret"]


def session_secret(settings: Settings) -> str:
    """``COALWATCH_SECRET_KEY``, else ``var/secret_key`` (created with mode 0600)."""
    return secret_key(settings)
