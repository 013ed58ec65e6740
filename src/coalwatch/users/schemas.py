from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from coalwatch.schemas import Code, Instant, Name

Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, Field(min_length=1, max_length=256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserIn(_In):
    """A new user: account, number 用户编号, name 用户名称, unit 所属单位, roles."""

    username: Username
    number: Annotated[str, Field(max_length=64)] | None = None
    name: Name
    #: the org code of the user's unit; None: the whole tree
    org: Code | None = None
    roles: list[Code] = []
    #: the initial password, to be changed at the first sign-in
    password: Password


class UserUpdate(_In):
    number: Annotated[str, Field(max_length=64)] | None = None
    name: Name
    org: Code | None = None
    roles: list[Code] = []
    active: bool = True
    #: a new password set by the administrator (must be changed at the next sign-in)
    password: Password | None = None
    #: lift a lock-out
    unlock: bool = False


class UserOut(BaseModel):
    id: int
    username: str
    number: str | None
    name: str
    org: str | None
    org_name: str | None
    roles: list[str]
    role_names: list[str]
    active: bool
    locked: bool
    must_change_password: bool
    last_login_at: Instant | None
    created_at: Instant


class RoleIn(_In):
    code: Code
    name: Name
    permissions: list[str] = []


class RoleUpdate(_In):
    name: Name
    permissions: list[str] = []


class RoleOut(BaseModel):
    code: str
    name: str
    permissions: list[str]
    builtin: bool
    users: int


class Account(BaseModel):
    """The signed-in user, as the pages show them."""

    id: int
    username: str
    name: str
    number: str | None
    unit: str | None
    unit_name: str | None
    roles: list[str]
    locale: str | None
    must_change_password: bool
    password_expires_at: datetime | None
