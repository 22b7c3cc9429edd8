"""Accounts: argon2 passwords, hashed personal API tokens, signed session cookies with a
CSRF token per session, and who may see which memo. No web framework here: `api/` reads
the header or cookie and hands the string to these functions."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dictation.db import utcnow
from dictation.errors import Conflict, Forbidden, InvalidInput, NotFound
from dictation.models import ApiToken, Memo, Role, User

TOKEN_PREFIX = "dd_"
MIN_PASSWORD_LENGTH = 8
# last_used_at is a hint for people pruning tokens; writing it on every request would make
# every API call a write (and on SQLite, a lock), so it is refreshed at most this often.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# --- passwords ------------------------------------------------------------------------


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


# --- users ----------------------------------------------------------------------------


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
    """Change the password and sign the user out of every browser."""
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    session.flush()


def deactivate_user(session: Session, user: User) -> None:
    """No more sign-ins, sessions or tokens for this user; their memos stay."""
    user.is_active = False
    user.session_epoch += 1
    session.flush()


# --- API tokens -----------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal token: the row (hash only) and the token itself, to show once."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the token a name, such as the phone or script that will use it.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name[:200], token_hash=_token_hash(token), prefix=token[:10])
    session.add(row)
    session.flush()
    return row, token


def user_for_token(session: Session, token: str) -> User | None:
    """The active owner of a valid, unrevoked token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row.user


def visible_tokens_query(user: User) -> Select[tuple[ApiToken]]:
    query = select(ApiToken).order_by(ApiToken.id)
    return query if user.role == Role.admin else query.where(ApiToken.user_id == user.id)


def revoke_token(session: Session, token_id: int, actor: User) -> ApiToken:
    """Revoke one of the actor's tokens (an admin: anyone's). Revoking twice is harmless."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and actor.role != Role.admin):
        raise NotFound(f"There is no API token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()
    return row


# --- who sees what --------------------------------------------------------------------


def visible_memos_query(user: User) -> Select[tuple[Memo]]:
    """Authors see their own memos; assistants and admins see all of them."""
    query = select(Memo)
    return query.where(Memo.author_id == user.id) if user.role == Role.author else query


def can_see(user: User, memo: Memo) -> bool:
    return user.role != Role.author or memo.author_id == user.id


def require_role(user: User, *roles: Role, doing: str = "do this") -> None:
    if user.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"Only an {allowed} may {doing}.")


# --- browser sessions -----------------------------------------------------------------


class SessionCookies:
    """Signed session cookies. The payload names the user, their session epoch (bumped on
    password change or sign-out everywhere) and a random session id, from which the CSRF
    token is derived: a page can send it back, a cross-site form cannot know it."""

    def __init__(self, secret_key: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="dictation-session")
        self._csrf_key = hashlib.sha256(b"dictation-csrf\0" + secret_key.encode()).digest()
        self.max_age_s = max_age_s

    def issue(self, user: User) -> str:
        return self._serializer.dumps(
            {"uid": user.id, "epoch": user.session_epoch, "sid": secrets.token_urlsafe(16)}
        )

    def _payload(self, cookie: str) -> dict | None:
        try:
            payload = self._serializer.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        return payload if isinstance(payload, dict) and {"uid", "epoch", "sid"} <= payload.keys() else None

    def user(self, session: Session, cookie: str) -> User | None:
        payload = self._payload(cookie)
        if payload is None:
            return None
        user = session.get(User, payload["uid"])
        if user is None or not user.is_active or user.session_epoch != payload["epoch"]:
            return None
        return user

    def csrf_token(self, cookie: str) -> str:
        payload = self._payload(cookie)
        sid = payload["sid"] if payload else ""
        return hmac.new(self._csrf_key, sid.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, cookie: str, supplied: str | None) -> bool:
        if not supplied or self._payload(cookie) is None:
            return False
        return hmac.compare_digest(self.csrf_token(cookie), supplied)


class SignInThrottle:
    """Slows password guessing: after `limit` failed sign-ins for one address, or from one
    client, within `window_s`, further attempts are refused until the oldest failure ages out.

    Kept in memory, so it counts per server process; a few processes multiply the limit by a
    few, which still turns millions of guesses into dozens.
    """

    def __init__(self, limit: int = 5, window_s: float = 900.0, clock=None) -> None:
        import collections
        import threading
        import time

        self.limit, self.window_s = limit, window_s
        self._clock = clock or time.monotonic
        self._failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float):
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def check(self, *keys: str) -> None:
        from dictation.errors import TooManyAttempts

        now = self._clock()
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.limit:
                    wait = int(failures[0] + self.window_s - now) + 1
                    raise TooManyAttempts(
                        f"Too many failed sign-ins; try again in {max(1, wait // 60)} minute(s).",
                        retry_after_s=wait, headers={"Retry-After": str(wait)},
                    )

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
