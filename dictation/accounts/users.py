"""Changing an account (an admin's job): role, name, language, password, active or not.

The rule that needs a service: there is always at least one active admin, or nobody could
manage accounts, tokens or destinations any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dictation.accounts.passwords import deactivate_user, parse_role, set_password
from dictation.errors import Conflict, NotFound
from dictation.models import Role, User


@dataclass(frozen=True)
class UserChanges:
    """What to change; None leaves a field as it is."""

    role: Role | str | None = None  # a Role or its name
    name: str | None = None  # trimmed; "" clears it
    language: str | None = None  # "" goes back to the browser's Accept-Language
    password: str | None = None  # signs the person out of every browser
    is_active: bool | None = None  # False: no more sign-ins, sessions or tokens


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    return user


def active_admins(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.admin, User.is_active.is_(True))
    ) or 0


def update_user(session: Session, user: User, changes: UserChanges) -> User:
    """Apply `changes`; Conflict (nothing changed) when they would leave no active admin."""
    role = parse_role(changes.role) if changes.role is not None else None
    loses_admin = user.role == Role.admin and user.is_active and (
        (role is not None and role != Role.admin) or changes.is_active is False
    )
    if loses_admin and active_admins(session) <= 1:
        raise Conflict("This is the last active admin; make someone else an admin first.")
    if role is not None:
        user.role = role.value
    if changes.name is not None:
        user.name = changes.name.strip()
    if changes.language is not None:
        user.language = changes.language or None
    if changes.password is not None:
        set_password(session, user, changes.password)
    if changes.is_active is False and user.is_active:
        deactivate_user(session, user)
    elif changes.is_active is True:
        user.is_active = True
    session.flush()
    return user
