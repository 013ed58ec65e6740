"""Secrets at rest: the cameras' passwords and the notification channels' settings (URLs
with access tokens, SMTP passwords, SMS keys) are stored encrypted.

The key is derived (HKDF-SHA256) from the center's secret key: ``COALWATCH_SECRET_KEY``,
else ``var/secret_key`` (created 0600 the first time). A stored value is
``enc:v1:`` followed by a Fernet token (AES-128-CBC with HMAC-SHA256); a column of the
``SecretText`` type encrypts on write and decrypts on read, so the code that uses a
password sees the plain text. Restoring a backup on another machine therefore needs
the same ``COALWATCH_SECRET_KEY`` (or ``var/secret_key`` file).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Dialect, Text, TypeDecorator

from coalwatch.config import Settings
from coalwatch.errors import CoalwatchError

PREFIX = "enc:v1:"
SECRET_FILE = "secret_key"
_INFO = b"coalwatch secrets at rest v1"


class SecretUnreadable(CoalwatchError):
    """A stored secret was encrypted with another secret key (a backup restored elsewhere)."""

    status = 503
    code = "secret_unreadable"


def secret_key(settings: Settings) -> str:
    """``COALWATCH_SECRET_KEY``, else ``var/secret_key`` (created with mode 0600 the first
    time), so that sessions and stored secrets survive a restart."""
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


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class _Keyring:
    """The key new secrets are written with (the last one set) and every key this process
    was given (two centers in one process, as in tests, read their own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Fernet | None = None
        self._known: dict[str, Fernet] = {}

    def use(self, secret: str) -> None:
        with self._lock:
            if secret not in self._known:
                self._known[secret] = _fernet(secret)
            self._current = self._known[secret]

    def current(self) -> Fernet:
        if self._current is None:
            self.use(secret_key(Settings()))
        assert self._current is not None
        return self._current

    def all(self) -> list[Fernet]:
        current = self.current()
        with self._lock:
            return [current, *(f for f in self._known.values() if f is not current)]


keyring = _Keyring()


def use_secret_key(secret: str) -> None:
    """Encrypt with the key derived from ``secret`` from now on (the center's settings)."""
    keyring.use(secret)


def encrypt(plain: str) -> str:
    return PREFIX + keyring.current().encrypt(plain.encode()).decode("ascii")


def decrypt(stored: str) -> str:
    """The plain text of a stored value; a value without the prefix (written before
    secrets were encrypted) is returned as it is."""
    if not stored.startswith(PREFIX):
        return stored
    token = stored[len(PREFIX) :].encode("ascii")
    for fernet in keyring.all():
        try:
            return fernet.decrypt(token).decode()
        except InvalidToken:
            continue
    raise SecretUnreadable(
        "a stored secret (camera password or notification channel setting) was encrypted "
        "with another secret key: run the center with the COALWATCH_SECRET_KEY (or "
        "var/secret_key) of the database's origin"
    )


def is_encrypted(stored: str | None) -> bool:
    return stored is not None and stored.startswith(PREFIX)


class SecretText(TypeDecorator[str]):
    """Text encrypted at rest, plain in Python."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return decrypt(str(value))
