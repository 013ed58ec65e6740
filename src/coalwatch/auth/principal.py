"""Who is calling, what they may do, and which part of the organisation tree they may see."""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from coalwatch.auth.permissions import ALL
from coalwatch.errors import N_, Forbidden, NotFound

PrincipalKind = Literal["token", "user", "operator"]


@dataclass(frozen=True, slots=True)
class Principal:
    """A token holder, a signed-in user, or the command-line operator.

    ``scope_path`` is the materialised path of the org subtree the principal
    may see ("/1/4/"); None is the whole tree. ``permissions`` are the strings
    of :mod:`coalwatch.auth.permissions`; ``*`` is everything.
    """

    name: str
    scope_path: str | None
    permissions: frozenset[str] = field(default_factory=frozenset)
    kind: PrincipalKind = "token"
    #: the signed-in user's id (kind "user")
    user_id: int | None = None

    @property
    def write(self) -> bool:
        return ALL in self.permissions

    def has(self, permission: str) -> bool:
        return ALL in self.permissions or permission in self.permissions

    def require(self, permission: str) -> None:
        """403 unless the principal holds ``permission`` (or ``*``)."""
        if self.has(permission):
            return
        if self.kind == "token":
            if permission.endswith(":view"):  # a third-party token reads some menus only
                message = f"this token may not read this ({permission} is required)"
            else:
                message = f"this token is read-only; a write token is required ({permission})"
            raise Forbidden(message, {"permission": permission})
        raise Forbidden(
            N_("权限不足：需要 %(permission)s 权限"),
            {"permission": permission},
            params={"permission": permission},
        )

    def require_within(self, permissions: Iterable[str], what: str) -> None:
        """403 unless the principal holds every one of ``permissions``: nobody grants more
        than they hold themselves (a role, a user's roles, a token's access)."""
        if self.has(ALL):
            return
        beyond = sorted(p for p in permissions if not self.has(p))
        if beyond:
            raise Forbidden(
                N_("%(what)s：不能授予自己没有的权限（%(permissions)s）"),
                params={"what": what, "permissions": " ".join(beyond)},
                labels=("what",),
            )

    @property
    def unscoped(self) -> bool:
        """Sees the whole tree: a user without a unit, an unscoped token, the operator."""
        return self.scope_path is None

    def require_unscoped(self, permission: str, what: str) -> None:
        """403 unless the principal holds ``permission`` and has no scope: ``what`` is
        shared by every county (roles, fee items ...), so one county may not change it."""
        self.require(permission)
        if not self.unscoped:
            raise Forbidden(
                f"{what} 为全局对象，只有不限辖区的用户或令牌可以修改 "
                f"({what} is global: only an unscoped user or token may change it)",
                {"permission": permission, "rule": "unscoped"},
            )

    def sees(self, org_path: str) -> bool:
        return self.scope_path is None or org_path.startswith(self.scope_path)

    def require_visible(self, org_path: str, what: str) -> None:
        # Outside the scope is reported as not found, so codes cannot be probed.
        if not self.sees(org_path):
            raise NotFound(f"{what} not found")


#: the command line acts with full rights: whoever runs it owns the database
OPERATOR = Principal(
    name="operator", scope_path=None, permissions=frozenset({ALL}), kind="operator"
)


def operator() -> Principal:
    """The command-line operator, named in the audit log after the system account."""
    try:
        return replace(OPERATOR, name=f"operator:{getpass.getuser()}")
    except (KeyError, OSError):  # no name for this uid (e.g. a bare container)
        return OPERATOR
