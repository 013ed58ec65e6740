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
from coalwatch.auth.permissions import ALL, BUILTIN_ROLES, VIEW_ALL
from coalwatch.auth.principal import Principal, operator
from coalwatch.auth.schemas import TokenOut
from coalwatch.errors import (
    N_,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from coalwatch.orgs import repository as org_repository
from coalwatch.storage.models import Org
from coalwatch.users.models import User, UserRole

TOKEN_PREFIX = "cw_"
#: the role ``coalwatch admin create`` gives (系统管理员: every permission)
ADMIN_ROLE = "admin"
MIN_PASSWORD_LENGTH = 10
#: token kinds: a script's (read or write) and a third party's (财政/税务/安监, read-only)
SCRIPT, THIRD_PARTY = "script", "third_party"
#: a third-party token reads what the third-party role reads, and settlement statements
THIRD_PARTY_PERMISSIONS = BUILTIN_ROLES["third_party"][1] | {"settlement:view"}
#: the longest name a token may have (its column's)
NAME_LENGTH: int = ApiToken.name.type.length


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: the access a token is given, as the page and the list name it
WRITE, READ, THIRD_PARTY_READ = "write", "read", "third-party read"


def token_permissions(write: bool, third_party: bool) -> frozenset[str]:
    """What a token of this access may do: a read token views every menu, a write token
    does everything, a third party's reads what third parties read."""
    if third_party:
        return THIRD_PARTY_PERMISSIONS
    return frozenset({ALL}) if write else VIEW_ALL


def _token_scope(session: Session, by: Principal, scope_code: str | None) -> Org | None:
    """The org a new token sees, inside what its creator sees (None: the whole tree, only
    for a creator who sees the whole tree)."""
    if scope_code is None:
        if not by.unscoped:
            raise Forbidden(N_("限定单位的用户只能创建本单位及下级单位的令牌：请选择单位"))
        return None
    org = org_repository.org_by_code(session, scope_code)
    if org is None or not by.sees(org.path):
        raise Invalid(
            N_("没有编码为 %(code)s 的单位"), {"code": scope_code}, params={"code": scope_code}
        )
    return org


def create_token(
    session: Session,
    name: str,
    scope_code: str | None,
    write: bool,
    now: datetime,
    *,
    third_party: bool = False,
    rate_limit_per_min: int | None = None,
    by: Principal | None = None,
) -> str:
    """A new token; only its digest is stored, so it is shown this once. Audited.

    ``by`` (the command-line operator unless given) needs ``system:write``, may give a
    token no more than it holds itself (a write token holds every permission, a read
    token every menu's view) and only inside the part of the tree it sees.

    A third-party token 第三方令牌 (finance, tax, safety departments) is always
    read-only and always rate-limited (60 requests per minute unless given).
    """
    by = by or operator()
    by.require("system:write")
    if not name.strip():
        raise Invalid(N_("令牌须有名称"))
    if len(name.strip()) > NAME_LENGTH:
        raise Invalid(N_("令牌名称最多 %(n)s 个字符"), params={"n": NAME_LENGTH})
    if third_party and write:
        raise Invalid(N_("第三方令牌总是只读的：不能给写权限"))
    if third_party and rate_limit_per_min is None:
        rate_limit_per_min = DEFAULT_THIRD_PARTY_PER_MIN
    if rate_limit_per_min is not None and not 1 <= rate_limit_per_min <= MAX_PER_MIN:
        raise Invalid(
            N_("限流为每分钟 1 至 %(max)s 次请求"),
            {"max": MAX_PER_MIN},
            params={"max": MAX_PER_MIN},
        )
    by.require_within(token_permissions(write, third_party), name.strip())
    scope = _token_scope(session, by, scope_code)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name.strip(),
        token_sha256=_digest(token),
        scope_org_id=scope.id if scope else None,
        write=write,
        created_at=now,
        kind=THIRD_PARTY if third_party else SCRIPT,
        rate_limit_per_min=rate_limit_per_min,
    )
    repository.add_token(session, row)
    audit.record(
        session,
        actor=by.name,
        action="token.create",
        entity="token",
        key=row.name,
        detail={
            "id": row.id,
            "scope": scope.code if scope else None,
            "write": write,
            "kind": row.kind,
            "rate_limit_per_min": rate_limit_per_min,
        },
        at=now,
    )
    return token


def _token_out(token: ApiToken, scope: str | None) -> TokenOut:
    access = WRITE if token.write else READ
    if token.kind == THIRD_PARTY:
        access = THIRD_PARTY_READ
    return TokenOut(
        id=token.id,
        name=token.name,
        scope=scope,
        access=access,
        rate_limit_per_min=token.rate_limit_per_min,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
    )


def _visible_tokens(session: Session, principal: Principal) -> list[tuple[ApiToken, str | None]]:
    """The tokens scoped inside what ``principal`` sees (a whole-tree token: only to a
    principal who sees the whole tree), with their scope's code."""
    return [
        (token, code)
        for token, code, path in repository.tokens(session)
        if principal.unscoped or (path is not None and principal.sees(path))
    ]


def list_tokens(session: Session, principal: Principal) -> list[TokenOut]:
    """The API tokens ``principal`` sees, revoked ones too; a token's secret is never
    stored, so never shown."""
    principal.require("system:view")
    return [_token_out(token, scope) for token, scope in _visible_tokens(session, principal)]


def _token_to_revoke(session: Session, principal: Principal, key: str) -> ApiToken:
    key = key.strip()
    visible = [token for token, _ in _visible_tokens(session, principal)]
    by_id = [token for token in visible if key.isdigit() and str(token.id) == key.lstrip("0")]
    if by_id:
        return by_id[0]
    named = [token for token in visible if token.name == key]
    if not named:
        raise NotFound(N_("没有名称或编号为 %(key)s 的令牌"), {"key": key}, params={"key": key})
    active = [token for token in named if token.revoked_at is None]
    if len(active) > 1:
        ids = ", ".join(str(token.id) for token in active)
        raise Conflict(
            N_("有 %(n)s 个令牌名为 %(key)s（编号 %(ids)s）：请给出要吊销的那个的编号"),
            {"key": key, "ids": ids},
            params={"n": len(active), "key": key, "ids": ids},
        )
    return active[0] if active else named[0]


def revoke_token(session: Session, principal: Principal, key: str, now: datetime) -> TokenOut:
    """Revoke a token by its id or its name; it is refused from then on. Audited."""
    principal.require("system:write")
    token = _token_to_revoke(session, principal, key)
    if token.revoked_at is not None:
        raise Conflict(
            N_("令牌 %(name)s（编号 %(id)s）早已吊销"),
            {"id": token.id},
            params={"name": token.name, "id": token.id},
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
    [(revoked, scope, _)] = repository.tokens(session, token_id=token.id)
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
    return Principal(
        name=f"token:{api_token.name}",
        scope_path=scope_path,
        permissions=token_permissions(api_token.write, api_token.kind == THIRD_PARTY),
        kind="token",
    )


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
