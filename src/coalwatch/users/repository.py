"""All SQL of users and roles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from coalwatch.storage.models import Org
from coalwatch.users.models import Role, User, UserRole, WebSession


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def org_of(session: Session, user: User) -> Org | None:
    return None if user.org_id is None else session.get(Org, user.org_id)


def roles_of(session: Session, user_ids: Sequence[int]) -> dict[int, list[Role]]:
    out: dict[int, list[Role]] = {u: [] for u in user_ids}
    rows = session.execute(
        select(UserRole.user_id, Role)
        .join(Role, Role.id == UserRole.role_id)
        .where(UserRole.user_id.in_(user_ids))
        .order_by(Role.id)
    )
    for user_id, role in rows:
        out[user_id].append(role)
    return out


def set_roles(session: Session, user_id: int, roles: Sequence[Role]) -> None:
    session.execute(delete(UserRole).where(UserRole.user_id == user_id))
    session.add_all(UserRole(user_id=user_id, role_id=role.id) for role in roles)
    session.flush()


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def delete_user(session: Session, user: User) -> None:
    session.execute(delete(UserRole).where(UserRole.user_id == user.id))
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.delete(user)
    session.flush()


def users_query(
    scope_path: str | None, text: str | None, org_path: str | None
) -> Select[User, Org]:
    query = select(User, Org).outerjoin(Org, Org.id == User.org_id)
    if scope_path is not None:
        query = query.where(Org.path.startswith(scope_path, autoescape=True))
    if org_path is not None:
        query = query.where(Org.path.startswith(org_path, autoescape=True))
    if text:
        like = f"%{text}%"
        query = query.where(
            or_(User.username.like(like), User.name.like(like), User.number.like(like))
        )
    return query


def list_users(
    session: Session,
    scope_path: str | None,
    text: str | None,
    org_path: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[User, Org | None]], int]:
    query = users_query(scope_path, text, org_path)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(User.number, User.username).offset(offset).limit(limit))
    return [(user, org) for user, org in rows], int(total)


def role_by_code(session: Session, code: str) -> Role | None:
    return session.scalars(select(Role).where(Role.code == code)).first()


def roles(session: Session) -> list[Role]:
    return list(session.scalars(select(Role).order_by(Role.builtin.desc(), Role.id)))


def role_user_counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(UserRole.role_id, func.count()).group_by(UserRole.role_id)).all()
    return {role_id: int(count) for role_id, count in rows}


def holders_of(session: Session, role_id: int) -> list[tuple[User, Org | None]]:
    """The users holding a role, with their units, by user name."""
    query = (
        select(User, Org)
        .join(UserRole, UserRole.user_id == User.id)
        .outerjoin(Org, Org.id == User.org_id)
        .where(UserRole.role_id == role_id)
        .order_by(User.username)
    )
    return [(user, org) for user, org in session.execute(query)]


def delete_role(session: Session, role: Role) -> None:
    session.execute(delete(UserRole).where(UserRole.role_id == role.id))
    session.delete(role)
    session.flush()


# ---- browser sessions -------------------------------------------------------------------


def web_session(session: Session, token_sha256: str) -> WebSession | None:
    return session.scalars(
        select(WebSession).where(WebSession.token_sha256 == token_sha256)
    ).one_or_none()


def end_web_sessions(
    session: Session, user_id: int, now: datetime, *, keep: str | None = None
) -> None:
    """End the user's open sessions (but the one whose digest is ``keep``)."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.token_sha256 != keep)
    session.execute(query.values(ended_at=now))


def purge_web_sessions(session: Session, before: datetime) -> None:
    """Forget sessions begun before ``before`` (expired whether ended or not)."""
    session.execute(delete(WebSession).where(WebSession.created_at < before))
