"""API tokens and the first administrator account."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth import repository
from coalwatch.auth.limits import DEFAULT_THIRD_PARTY_PER_MIN, MAX_PER_MIN, RateLimiter
from coalwatch.auth.models import ApiToken
from coalwatch.auth.passwords import hash_password
from coalwatch.auth.permissions import BUILTIN_ROLES
from coalwatch.auth.principal import Principal
from coalwatch.auth.schemas import TokenOut
from coalwatch.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from coalwatch.orgs import repository as org_repository
from coalwatch.users.models import User, UserRole

TOKEN_PREFIX = "cw_"
#: the role ``coalwatch admin create`` gives (系统管理员: every permission)
ADMIN_ROLE = "admin"
MIN_PASSWORD_LENGTH = 10
#: token kinds: a script's (read or write) and a third party's (财政/税务/安监, read-only)
SCRIPT, THIRD_PARTY = "script", "third_party"
#: a third-party token reads what the third-party role reads, and settlement statements
THIRD_PARTY_PERMISSIONS = BUILTIN_ROLES["third_party"][1] | {"settlement:view"}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    name: str,
    scope_code: str | None,
    write: bool,
    now: datetime,
    *,
    third_party: bool = False,
    rate_limit_per_min: int | None = None,
) -> str:
    """A new token; only its digest is stored, so it is shown this once.

    A third-party token 第三方令牌 (finance, tax, safety departments) is always
    read-only and always rate-limited (60 requests per minute unless given).
    """
    if not name.strip():
        raise Invalid("a token needs a name")
    if third_party and write:
        raise Invalid("a third-party token is always read-only: leave out --write")
    if third_party and rate_limit_per_min is None:
        rate_limit_per_min = DEFAULT_THIRD_PARTY_PER_MIN
    if rate_limit_per_min is not None and not 1 <= rate_limit_per_min <= MAX_PER_MIN:
        raise Invalid(f"a rate limit is 1 to {MAX_PER_MIN} requests per minute")
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
            kind=THIRD_PARTY if third_party else SCRIPT,
            rate_limit_per_min=rate_limit_per_min,
        ),
    )
    return token


def _token_out(token: ApiToken, scope: str | None) -> TokenOut:
    access = "write" if token.write else "read"
    if token.kind == THIRD_PARTY:
        access = "third-party read"
    return TokenOut(
        id=token.id,
        name=token.name,
        scope=scope,
        access=access,
        rate_limit_per_min=token.rate_limit_per_min,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
    )


def list_tokens(session: Session, principal: Principal) -> list[TokenOut]:
    """Every API token, revoked ones too; a token's secret is never stored, so never shown."""
    principal.require("system:view")
    return [_token_out(token, scope) for token, scope in repository.tokens(session)]


#: the largest id an INTEGER column holds (a larger number is a name, or no token)
_MAX_ID = 2**31 - 1


def _token_to_revoke(session: Session, key: str) -> ApiToken:
    key = key.strip()
    if key.isdigit() and int(key) <= _MAX_ID:
        found = repository.token_by_id(session, int(key))
        if found is not None:
            return found
    named = repository.tokens_named(session, key)
    if not named:
        raise NotFound(f"no token with the name or id {key!r} (see `coalwatch token list`)")
    active = [token for token in named if token.revoked_at is None]
    if len(active) > 1:
        ids = ", ".join(str(token.id) for token in active)
        raise Conflict(
            f"{len(active)} tokens are named {key!r} (ids {ids}): give the id of the one to revoke"
        )
    return active[0] if active else named[0]


def revoke_token(session: Session, principal: Principal, key: str, now: datetime) -> TokenOut:
    """Revoke a token by its id or its name; it is refused from then on. Audited."""
    principal.require("system:write")
    token = _token_to_revoke(session, key)
    if token.revoked_at is not None:
        raise Conflict(
            f"token {token.name!r} (id {token.id}) is already revoked "
            f"(since {token.revoked_at.isoformat(timespec='seconds')})"
        )
    repository.revoke(token, now)
    audit.record(
        session,
        actor=principal.name,
        action="token.revoke",
        entity="token",
        key=token.name,
        detail={"id": token.id, "write": token.write, "kind": token.kind},
        at=now,
    )
    session.flush()
    [(revoked, scope)] = repository.tokens(session, token_id=token.id)
    return _token_out(revoked, scope)


def authenticate(
    session: Session,
    authorization: str | None,
    *,
    limiter: RateLimiter | None = None,
    now: datetime | None = None,
) -> Principal:
    """The principal behind an ``Authorization: Bearer`` header, or 401.

    With a limiter, a rate-limited token spends one request of its budget here
    (429 with ``Retry-After`` when it has none left).
    """
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return authenticate_digest(session, token_digest(token.strip()), limiter=limiter, now=now)


def token_digest(token: str) -> str:
    """What is stored of a token (its SHA-256): it finds the token, but is not one."""
    return _digest(token)


def authenticate_digest(
    session: Session,
    digest: str,
    *,
    limiter: RateLimiter | None = None,
    now: datetime | None = None,
) -> Principal:
    """``authenticate`` for the token with this digest (an event stream's ticket)."""
    found = repository.token_by_hash(session, digest)
    if found is None:
        raise Unauthorized("unknown or revoked token")
    api_token, scope_path = found
    if limiter is not None and now is not None and api_token.rate_limit_per_min is not None:
        wait = limiter.take(api_token.id, api_token.rate_limit_per_min, now)
        if wait is not None:
            raise TooManyRequests(
                f"this token may make {api_token.rate_limit_per_min} requests per minute; "
                f"retry after {wait} s",
                wait,
            )
    if api_token.kind == THIRD_PARTY:
        return Principal(
            name=f"token:{api_token.name}",
            scope_path=scope_path,
            permissions=THIRD_PARTY_PERMISSIONS,
            kind="token",
        )
    return Principal.for_token(f"token:{api_token.name}", scope_path, api_token.write)


def create_admin(session: Session, username: str, password: str, now: datetime) -> User:
    """The first administrator (系统管理员), from the command line."""
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
        password_hash=hash_password(password),
        is_admin=True,
        password_changed_at=now,
        created_at=now,
        active=True,
        must_change_password=False,
        failed_logins=0,
    )
    repository.add_user(session, user)
    from coalwatch.users.service import ensure_builtin_roles

    ensure_builtin_roles(session, now)
    admin_role = repository.role_by_code(session, ADMIN_ROLE)
    if admin_role is None:
        raise Invalid(f"the built-in role {ADMIN_ROLE!r} is missing: run `coalwatch db upgrade`")
    session.add(UserRole(user_id=user.id, role_id=admin_role.id))
    session.flush()
    return user
