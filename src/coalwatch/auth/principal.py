"""Who is calling, and which part of the organisation tree they may see."""

from __future__ import annotations

from dataclasses import dataclass

from coalwatch.errors import Forbidden, NotFound


@dataclass(frozen=True, slots=True)
class Principal:
    """A token holder (or a command-line operator).

    ``scope_path`` is the materialised path of the org subtree the principal
    may see ("/1/4/"); None is the whole tree.
    """

    name: str
    scope_path: str | None
    write: bool

    def sees(self, org_path: str) -> bool:
        return self.scope_path is None or org_path.startswith(self.scope_path)

    def require_visible(self, org_path: str, what: str) -> None:
        # Outside the scope is reported as not found, so codes cannot be probed.
        if not self.sees(org_path):
            raise NotFound(f"{what} not found")

    def require_write(self) -> None:
        if not self.write:
            raise Forbidden("this token is read-only; a write token is required")


#: the command line acts with full rights: whoever runs it owns the database
OPERATOR = Principal(name="operator", scope_path=None, write=True)
