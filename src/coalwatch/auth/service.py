"""API tokens and administrator accounts."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from coalwatch.auth import repository
from coalwatch.auth.principal import Principal
from coalwatch.errors import Conflict, Invalid, Unauthorized
from coalwatch.orgs import repository as org_repository
from coalwatch.storage.models import ApiToken, User

TOKEN_PREFIX = "cw_"
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, name: str, scope_code: str | None, write: bool, now: datetime
) -> str:
    """A new token; only its digest is stored, so it is shown this once."""
    if not name.strip():
        raise Invalid("a token needs a name")
    scope_id = None
    if scope_code is not None:
        org = org_repository.org_by_code(session, scope_code)
        if org is None:
            raise Invalid(f"no org with code {scope_code!r}")
        scope_id = org.id
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    repository.add_token(
        session,
        ApiToken(
            name=name.strip(),
            token_sha256=_digest(token),
            scope_org_id=scope_id,
            write=write,
            created_at=now,
        ),
    )
    return token


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal behind an ``Authorization: Bearer`` header, or 401."""
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    found = repository.token_by_hash(session, _digest(token.strip()))
    if found is None:
        raise Unauthorized("unknown or revoked token")
    api_token, scope_path = found
    return Principal(name=f"token:{api_token.name}", scope_path=scope_path, write=api_token.write)


def create_admin(session: Session, username: str, password: str, now: datetime) -> User:
    username = username.strip()
    if not username:
        raise Invalid("a username is required")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if repository.user_by_username(session, username) is not None:
        raise Conflict(f"user {username!r} exists already")
    user = User(
        username=username,
        name=username,
        number=None,
        org_id=None,
        password_hash=_hasher.hash(password),
        is_admin=True,
        password_changed_at=now,
        created_at=now,
    )
    repository.add_user(session, user)
    return user
