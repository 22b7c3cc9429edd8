"""Passwords (argon2) and the people who hold them: creating, signing in, changing, deactivating."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dictation.accounts.sessions import end_all_sessions
from dictation.errors import Conflict, Forbidden, InvalidInput
from dictation.models import Role, User

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
        raise InvalidInput(f"{email!r} is not an e-mail address.")
    return email


def parse_role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInput(f"{role!r} is not a role; choose one of {names}.") from None



def create_user(
    session: Session,
    email: str,
    role: str | Role,
    password: str | None = None,
    name: str = "",
    language: str | None = None,
) -> User:
    email = normalise_email(email)
    role = parse_role(role)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"There is already an account for {email}.")
    user = User(
        email=email,
        role=role.value,
        name=name.strip(),
        language=language,
        password_hash=hash_password(password) if password else None,
        is_active=True,
        session_epoch=0,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (never says which was wrong)."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    user = session.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active or not user.password_hash:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Change the password and sign the user out of every browser (the caller may issue a
    fresh session for the browser that made the change)."""
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    end_all_sessions(session, user)
    session.flush()


def change_password(session: Session, user: User, current_password: str, new_password: str) -> None:
    """A person changing their own password: Forbidden when `current_password` is not theirs,
    else as `set_password` (signed out of every browser)."""
    if not verify_password(user.password_hash, current_password):
        raise Forbidden("The current password is wrong.")
    set_password(session, user, new_password)


def deactivate_user(session: Session, user: User) -> None:
    """No more sign-ins, sessions or tokens for this user; their memos stay."""
    user.is_active = False
    user.session_epoch += 1
    end_all_sessions(session, user)
    session.flush()
