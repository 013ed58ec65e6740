"""Sign-in 登录, users 用户管理 and roles 权限设置.

A user has an account name, a number 用户编号, a name 用户名称, a unit 所属单位 (an
org: they see that subtree only) and roles; a role is a set of permission
strings. Sign-ins, failures, lock-outs, password changes and every change of a
user or role go to the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.passwords import hash_password, needs_rehash, verify_password
from coalwatch.auth.permissions import ALL, BUILTIN_ROLES, known
from coalwatch.auth.principal import Principal
from coalwatch.config import Settings
from coalwatch.errors import N_, Conflict, Forbidden, Invalid, NotFound
from coalwatch.orgs import repository as org_repository
from coalwatch.orgs.authority import beyond_the_unit, is_supervising
from coalwatch.orgs.service import unavailable
from coalwatch.storage.models import Org
from coalwatch.users import repository
from coalwatch.users.models import Role, User, WebSession
from coalwatch.users.schemas import (
    Account,
    RoleIn,
    RoleOut,
    RoleUpdate,
    UserIn,
    UserOut,
    UserUpdate,
)

MIN_PASSWORD_LENGTH = 10
LOCALES = ("zh_CN", "en")
#: one answer for an unknown user, a wrong password and a locked account, so that the
#: sign-in page does not tell which user names exist (the audit log keeps the reason)
BAD_LOGIN = "用户名或密码错误，或账户已被暂时锁定"
DISABLED = "账户已停用"
#: what the login page says (message ids of the catalog)
LOGIN_MESSAGES = (BAD_LOGIN, DISABLED)


@dataclass(frozen=True, slots=True)
class Policy:
    """Lock-out and password ageing (settings)."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    #: None: passwords do not expire
    max_age: timedelta | None = timedelta(days=90)
    #: how long a browser session lasts at most (settings.session_hours)
    session_age: timedelta = timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.lockout_minutes),
            max_age=timedelta(days=settings.password_max_age_days)
            if settings.password_max_age_days
            else None,
            session_age=timedelta(hours=settings.session_hours),
        )


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a sign-in attempt came to; ``error`` is a message for the login page."""

    user_id: int | None = None
    #: changes whenever the password does: a session carries it, so changing a
    #: password ends the other sessions
    stamp: str | None = None
    locale: str | None = None
    must_change_password: bool = False
    error: str | None = None
    #: the new session's id, for the cookie (only its digest is stored)
    session_id: str | None = None


def stamp(user: User) -> str:
    """A digest of the password hash (whose salt is new at each change)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def check_password_rules(password: str, username: str) -> None:
    """At least 10 characters with letters and digits, and not the account name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(N_("密码至少 %(n)s 位"), params={"n": MIN_PASSWORD_LENGTH})
    if not any(c in string.ascii_letters for c in password) or not any(
        c.isdigit() for c in password
    ):
        raise Invalid(N_("密码须同时包含字母和数字"))
    if username.lower() in password.lower():
        raise Invalid(N_("密码不能包含用户名"))


def _expired(user: User, now: datetime, policy: Policy) -> bool:
    return policy.max_age is not None and now - user.password_changed_at >= policy.max_age


def login(
    session: Session, username: str, password: str, now: datetime, policy: Policy, source: str
) -> LoginResult:
    """Check a password; count failures and lock the account after too many.

    Never raises for a bad attempt, so that the failure's audit entry is committed.
    """
    username = username.strip()
    user = repository.user_by_username(session, username) if username else None

    def failed(reason: str, message: str = BAD_LOGIN) -> LoginResult:
        audit.record(
            session,
            actor=username or "-",
            action="login.failed",
            entity="user",
            key=username or "-",
            detail={"reason": reason, "source": source},
            at=now,
        )
        return LoginResult(error=message)

    if user is None:
        verify_password(None, password)  # the same work as for a real account
        return failed("unknown_user")
    if user.locked_until is not None and user.locked_until > now:
        verify_password(None, password)
        return failed("locked")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failures:
            user.failed_logins = 0
            user.locked_until = now + policy.lockout
            audit.record(
                session,
                actor=username,
                action="user.locked",
                entity="user",
                key=username,
                detail={"until": user.locked_until.isoformat(), "source": source},
                at=now,
            )
        return failed("bad_password")
    if not user.active:
        return failed("inactive", DISABLED)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    must_change = user.must_change_password or _expired(user, now, policy)
    audit.record(
        session,
        actor=user.username,
        action="login",
        entity="user",
        key=user.username,
        detail={"source": source, "must_change_password": must_change},
        at=now,
    )
    return LoginResult(
        user_id=user.id,
        stamp=stamp(user),
        locale=user.locale,
        must_change_password=must_change,
        session_id=_start_session(session, user, now, policy),
    )


def _session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _start_session(session: Session, user: User, now: datetime, policy: Policy) -> str:
    """A new server-side session (a random id for the cookie); expired ones are forgotten."""
    repository.purge_web_sessions(session, now - policy.session_age)
    session_id = secrets.token_urlsafe(32)
    repository.add(
        session,
        WebSession(user_id=user.id, token_sha256=_session_digest(session_id), created_at=now),
    )
    return session_id


def resume(
    session: Session,
    user_id: int,
    user_stamp: str,
    session_id: str,
    now: datetime,
    policy: Policy,
) -> tuple[Principal, Account] | None:
    """The principal and account of a browser session, or None when it has ended (signed
    out, or the password changed since) or is unknown."""
    found = repository.web_session(session, _session_digest(session_id))
    if found is None or found.user_id != user_id or found.ended_at is not None:
        return None
    return signed_in(session, user_id, user_stamp, now, policy)


def _permissions(roles: Iterable[Role]) -> frozenset[str]:
    return frozenset(p for role in roles for p in role.permissions.split())


def signed_in(
    session: Session, user_id: int, user_stamp: str, now: datetime, policy: Policy
) -> tuple[Principal, Account] | None:
    """The principal and account of a session, or None when the session is no longer
    valid (user deleted or disabled, password changed since)."""
    user = repository.user_by_id(session, user_id)
    if user is None or not user.active or stamp(user) != user_stamp:
        return None
    org = repository.org_of(session, user)
    roles = repository.roles_of(session, [user.id])[user.id]
    principal = Principal(
        name=user.username,
        scope_path=org.path if org else None,
        permissions=_permissions(roles),
        kind="user",
        user_id=user.id,
    )
    account = Account(
        id=user.id,
        username=user.username,
        name=user.name,
        number=user.number,
        unit=org.code if org else None,
        unit_name=org.name if org else None,
        roles=[role.name for role in roles],
        locale=user.locale,
        must_change_password=user.must_change_password or _expired(user, now, policy),
        password_expires_at=None
        if policy.max_age is None
        else user.password_changed_at + policy.max_age,
    )
    return principal, account


def _me(session: Session, principal: Principal) -> User:
    if principal.user_id is None:
        raise Forbidden("only a signed-in user has a password and a language")
    user = repository.user_by_id(session, principal.user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def change_password(
    session: Session,
    principal: Principal,
    old: str,
    new: str,
    now: datetime,
    *,
    session_id: str | None = None,
) -> str:
    """修改密码: the old one must be right, the new one different and by the rules.

    Returns the new session stamp; the other sessions of the user end (all but
    ``session_id``, the browser session that made the change)."""
    user = _me(session, principal)
    if not verify_password(user.password_hash, old):
        raise Invalid(N_("原密码错误"))
    if old == new:
        raise Invalid(N_("新密码不能与原密码相同"))
    check_password_rules(new, user.username)
    user.password_hash = hash_password(new)
    user.password_changed_at = now
    user.must_change_password = False
    repository.end_web_sessions(
        session, user.id, now, keep=None if session_id is None else _session_digest(session_id)
    )
    audit.record(
        session,
        actor=user.username,
        action="password.change",
        entity="user",
        key=user.username,
        detail={},
        at=now,
    )
    return stamp(user)


def logout(
    session: Session,
    principal: Principal,
    now: datetime,
    source: str,
    *,
    session_id: str | None = None,
) -> None:
    """Sign out: the browser session ends here, so its cookie no longer signs anyone in."""
    if session_id is not None:
        found = repository.web_session(session, _session_digest(session_id))
        if found is not None and found.ended_at is None:
            found.ended_at = now
    audit.record(
        session,
        actor=principal.name,
        action="logout",
        entity="user",
        key=principal.name,
        detail={"source": source},
        at=now,
    )


def set_locale(session: Session, principal: Principal, locale: str) -> None:
    if locale not in LOCALES:
        raise Invalid(f"unknown language {locale!r}")
    _me(session, principal).locale = locale


# ---- users ------------------------------------------------------------------------------


def _user_out(user: User, org: Org | None, roles: Sequence[Role], now: datetime) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        number=user.number,
        name=user.name,
        org=org.code if org else None,
        org_name=org.name if org else None,
        roles=[r.code for r in roles],
        role_names=[r.name for r in roles],
        active=user.active,
        locked=user.locked_until is not None and user.locked_until > now,
        must_change_password=user.must_change_password,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


def list_users(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    text: str | None = None,
    org: str | None = None,
    page: int = 1,
    size: int = 20,
) -> tuple[list[UserOut], int]:
    """查询用户: the users whose unit lies in the caller's subtree."""
    principal.require("system:view")
    org_path = None
    if org:
        org_path = _visible_org(session, principal, org).path
    rows, total = repository.list_users(
        session, principal.scope_path, text, org_path, (max(page, 1) - 1) * size, size
    )
    roles = repository.roles_of(session, [u.id for u, _ in rows])
    return [_user_out(u, o, roles[u.id], now) for u, o in rows], total


def _visible_org(session: Session, principal: Principal, code: str) -> Org:
    org = org_repository.org_by_code(session, code)
    if org is None or not principal.sees(org.path):
        raise Invalid(f"no unit {code!r}")
    return org


def _visible_user(session: Session, principal: Principal, user_id: int) -> tuple[User, Org | None]:
    user = repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    org = repository.org_of(session, user)
    if principal.scope_path is not None and (org is None or not principal.sees(org.path)):
        raise NotFound(f"user {user_id} not found")
    return user, org


def get_user(session: Session, principal: Principal, user_id: int, now: datetime) -> UserOut:
    principal.require("system:view")
    user, org = _visible_user(session, principal, user_id)
    return _user_out(user, org, repository.roles_of(session, [user.id])[user.id], now)


def _unit(session: Session, principal: Principal, code: str | None) -> Org | None:
    if code is None:
        if principal.scope_path is not None:
            raise Forbidden("a user of a unit can only create users inside that unit")
        return None
    return _visible_org(session, principal, code)


def _grantable(session: Session, principal: Principal, codes: Sequence[str]) -> list[Role]:
    """Roles by code; nobody grants more than they hold themselves."""
    roles = []
    for code in dict.fromkeys(codes):
        role = repository.role_by_code(session, code)
        if role is None:
            raise Invalid(f"no role {code!r}")
        principal.require_within(role.permissions.split(), role.name)
        roles.append(role)
    return roles


def _require_supervising(user: str, org: Org | None, roles: Sequence[Role]) -> None:
    """A user of a mine (a unit that is not supervising) holds no decision on a mine's
    yardsticks (domain.md "Who decides what"): a mine's staff apply, never approve."""
    if is_supervising(org):
        return
    assert org is not None
    decisions = beyond_the_unit(_permissions(roles))
    if decisions:
        raise Invalid(
            N_("%(user)s 属于被监管单位 %(unit)s，不能持有监管单位的决定权限（%(permissions)s）"),
            {"user": user, "unit": org.code, "permissions": decisions},
            params={"user": user, "unit": org.name, "permissions": " ".join(decisions)},
        )


def create_user(session: Session, principal: Principal, data: UserIn, now: datetime) -> UserOut:
    """增加用户: with an initial password that must be changed at the first sign-in."""
    principal.require("system:write")
    if repository.user_by_username(session, data.username) is not None:
        raise unavailable(N_("用户名"), data.username)
    org = _unit(session, principal, data.org)
    roles = _grantable(session, principal, data.roles)
    _require_supervising(data.username, org, roles)
    check_password_rules(data.password, data.username)
    user = User(
        username=data.username,
        number=data.number or None,
        name=data.name,
        org_id=org.id if org else None,
        password_hash=hash_password(data.password),
        is_admin=False,
        password_changed_at=now,
        created_at=now,
        active=True,
        must_change_password=True,
        failed_logins=0,
    )
    repository.add(session, user)
    repository.set_roles(session, user.id, roles)
    audit.record(
        session,
        actor=principal.name,
        action="user.create",
        entity="user",
        key=user.username,
        detail={
            "number": user.number,
            "name": user.name,
            "unit": data.org,
            "roles": [r.code for r in roles],
        },
        at=now,
    )
    return _user_out(user, org, roles, now)


def update_user(
    session: Session, principal: Principal, user_id: int, data: UserUpdate, now: datetime
) -> UserOut:
    """修改用户: unit, roles, enabled; a new password or an unlock if asked."""
    principal.require("system:write")
    user, before_org = _visible_user(session, principal, user_id)
    before_roles = repository.roles_of(session, [user.id])[user.id]
    principal.require_within(_permissions(before_roles), user.username)
    org = _unit(session, principal, data.org)
    roles = _grantable(session, principal, data.roles)
    _require_supervising(user.username, org, roles)
    if user.id == principal.user_id and not data.active:
        raise Invalid(N_("不能停用自己的账户"))
    before = {
        "number": user.number,
        "name": user.name,
        "unit": before_org.code if before_org else None,
        "roles": [r.code for r in before_roles],
        "active": user.active,
    }
    user.number = data.number or None
    user.name = data.name
    user.org_id = org.id if org else None
    user.active = data.active
    if data.password:
        check_password_rules(data.password, user.username)
        user.password_hash = hash_password(data.password)
        user.password_changed_at = now
        user.must_change_password = True
    if data.unlock:
        user.locked_until = None
        user.failed_logins = 0
    repository.set_roles(session, user.id, roles)
    after = {
        "number": user.number,
        "name": user.name,
        "unit": data.org,
        "roles": [r.code for r in roles],
        "active": user.active,
    }
    audit.record(
        session,
        actor=principal.name,
        action="user.update",
        entity="user",
        key=user.username,
        detail={
            "before": before,
            "after": after,
            "password_reset": bool(data.password),
            "unlocked": data.unlock,
        },
        at=now,
    )
    return _user_out(user, org, roles, now)


def _user_named(session: Session, principal: Principal, username: str) -> User:
    """A user the caller sees and may manage, by account name."""
    user = repository.user_by_username(session, username.strip())
    if user is None:
        raise NotFound(f"no user {username.strip()!r}")
    user, _ = _visible_user(session, principal, user.id)
    principal.require_within(
        _permissions(repository.roles_of(session, [user.id])[user.id]), user.username
    )
    return user


def unlock(session: Session, principal: Principal, username: str, now: datetime) -> bool:
    """解锁: lift a lock-out and forget the failed sign-ins; False when it was not locked."""
    principal.require("system:write")
    user = _user_named(session, principal, username)
    was_locked = user.locked_until is not None and user.locked_until > now
    user.locked_until = None
    user.failed_logins = 0
    audit.record(
        session,
        actor=principal.name,
        action="user.unlock",
        entity="user",
        key=user.username,
        detail={"was_locked": was_locked},
        at=now,
    )
    return was_locked


def reset_password(
    session: Session, principal: Principal, username: str, password: str, now: datetime
) -> None:
    """重置密码: a new password by the rules, to be changed at the next sign-in.

    The user's browser sessions end, and a lock-out is lifted so that they can sign in.
    """
    principal.require("system:write")
    user = _user_named(session, principal, username)
    check_password_rules(password, user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.must_change_password = True
    user.locked_until = None
    user.failed_logins = 0
    repository.end_web_sessions(session, user.id, now)
    audit.record(
        session,
        actor=principal.name,
        action="password.reset",
        entity="user",
        key=user.username,
        detail={"must_change_password": True},
        at=now,
    )


def delete_users(
    session: Session, principal: Principal, user_ids: Sequence[int], now: datetime
) -> int:
    """删除用户 (the audit log keeps what they did)."""
    principal.require("system:write")
    deleted = 0
    for user_id in dict.fromkeys(user_ids):
        user, _ = _visible_user(session, principal, user_id)
        if user.id == principal.user_id:
            raise Invalid(N_("不能删除自己的账户"))
        roles = repository.roles_of(session, [user.id])[user.id]
        principal.require_within(_permissions(roles), user.username)
        username = user.username
        repository.delete_user(session, user)
        audit.record(
            session,
            actor=principal.name,
            action="user.delete",
            entity="user",
            key=username,
            detail={"roles": [r.code for r in roles]},
            at=now,
        )
        deleted += 1
    return deleted


# ---- roles ------------------------------------------------------------------------------


def _role_out(role: Role, users: int) -> RoleOut:
    return RoleOut(
        code=role.code,
        name=role.name,
        permissions=role.permissions.split(),
        builtin=role.builtin,
        users=users,
    )


def list_roles(session: Session, principal: Principal) -> list[RoleOut]:
    principal.require("system:view")
    counts = repository.role_user_counts(session)
    return [_role_out(r, counts.get(r.id, 0)) for r in repository.roles(session)]


def _clean(permissions: Sequence[str]) -> list[str]:
    unknown = [p for p in permissions if not known(p)]
    if unknown:
        raise Invalid(f"unknown permissions: {' '.join(unknown)}")
    if ALL in permissions:
        return [ALL]
    return sorted(set(permissions))


def _role(session: Session, code: str) -> Role:
    role = repository.role_by_code(session, code)
    if role is None:
        raise NotFound(f"role {code!r} not found")
    return role


#: what the refusal of a scoped principal names
ROLES = "角色 roles"


def create_role(session: Session, principal: Principal, data: RoleIn, now: datetime) -> RoleOut:
    principal.require_unscoped("system:write", ROLES)
    if repository.role_by_code(session, data.code) is not None:
        raise Conflict(N_("角色 %(code)s 已存在"), params={"code": repr(data.code)})
    permissions = _clean(data.permissions)
    principal.require_within(permissions, data.name)
    role = Role(
        code=data.code,
        name=data.name,
        permissions=" ".join(permissions),
        builtin=False,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, role)
    audit.record(
        session,
        actor=principal.name,
        action="role.create",
        entity="role",
        key=role.code,
        detail={"name": role.name, "permissions": permissions},
        at=now,
    )
    return _role_out(role, 0)


def update_role(
    session: Session, principal: Principal, code: str, data: RoleUpdate, now: datetime
) -> RoleOut:
    """权限设置: the checkbox matrix of a role is saved as its permission strings."""
    principal.require_unscoped("system:write", ROLES)
    role = _role(session, code)
    before = role.permissions.split()
    permissions = _clean(data.permissions)
    principal.require_within([*before, *permissions], role.name)
    decisions = beyond_the_unit(permissions)
    if decisions:
        for holder, org in repository.holders_of(session, role.id):
            if not is_supervising(org):
                assert org is not None
                raise Conflict(
                    N_(
                        "%(role)s 的用户 %(user)s 属于被监管单位 %(unit)s："
                        "该角色不能增加监管单位的决定权限（%(permissions)s）"
                    ),
                    {"user": holder.username, "unit": org.code, "permissions": decisions},
                    params={
                        "role": role.name,
                        "user": holder.username,
                        "unit": org.name,
                        "permissions": " ".join(decisions),
                    },
                    labels=("role",),
                )
    role.name = data.name
    role.permissions = " ".join(permissions)
    role.updated_at = now
    audit.record(
        session,
        actor=principal.name,
        action="role.update",
        entity="role",
        key=role.code,
        detail={"name": role.name, "before": before, "after": permissions},
        at=now,
    )
    return _role_out(role, repository.role_user_counts(session).get(role.id, 0))


def delete_role(session: Session, principal: Principal, code: str, now: datetime) -> None:
    principal.require_unscoped("system:write", ROLES)
    role = _role(session, code)
    if role.builtin:
        raise Conflict(N_("内置角色不能删除"))
    principal.require_within(role.permissions.split(), role.name)
    repository.delete_role(session, role)
    audit.record(
        session,
        actor=principal.name,
        action="role.delete",
        entity="role",
        key=code,
        detail={"permissions": role.permissions.split()},
        at=now,
    )


def ensure_builtin_roles(session: Session, now: datetime) -> int:
    """Create the built-in roles that are missing (the migration creates them; a database
    emptied by hand gets them back at start-up). Existing roles are left as edited."""
    existing = {role.code for role in repository.roles(session)}
    missing = [code for code in BUILTIN_ROLES if code not in existing]
    for code in missing:
        name, permissions = BUILTIN_ROLES[code]
        repository.add(
            session,
            Role(
                code=code,
                name=name,
                permissions=" ".join(sorted(permissions)),
                builtin=True,
                created_at=now,
                updated_at=now,
            ),
        )
    return len(missing)
