"""Browser sessions: a row per signed-in browser, named by a signed cookie, with a CSRF token
per session.

The cookie carries a random session id signed with the secret key; the table keeps only the
id's sha256, so a copy of the database holds no live cookie. Deleting the row signs that
browser out for good: a cookie captured before sign-out is dead on the server, not just
forgotten by the browser.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from dictation.db import rows_changed, utcnow
from dictation.errors import NotFound
from dictation.models import BrowserSession, User

# last_seen_at is for people reviewing their sessions; writing it on every request would make
# every page view a write, so it moves at most this often.
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)
USER_AGENT_LENGTH = 300  # the column's length
# Read at every request of a signed-in browser: one statement object, its SQL compiled once.
# Built anew with the hash in it, each read cost ~0.16 ms of CPU more (its cache key computed).
_ROW_BY_HASH = select(BrowserSession).where(BrowserSession.token_hash == bindparam("token_hash"))


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


class SessionCookies:
    """Issues, reads and ends browser sessions. The CSRF token is an HMAC of the session id:
    a page of ours can send it back, a cross-site form cannot know it."""

    def __init__(self, secret_key: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="dictation-session")
        self._csrf_key = hashlib.sha256(b"dictation-csrf\0" + secret_key.encode()).digest()
        self.max_age_s = max_age_s

    # --- the cookie -----------------------------------------------------------------------
    def issue(self, session: Session, user: User, user_agent: str | None = None) -> str:
        """A new session for this user (a row) and the cookie value that names it."""
        sid = secrets.token_urlsafe(32)
        session.add(BrowserSession(
            user_id=user.id, token_hash=_hash(sid), user_agent=(user_agent or "")[:USER_AGENT_LENGTH],
        ))
        session.flush()
        return self._serializer.dumps({"uid": user.id, "sid": sid})

    def _payload(self, cookie: str) -> dict | None:
        try:
            payload = self._serializer.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("sid"), str):
            return None
        return payload

    def row(self, session: Session, cookie: str) -> BrowserSession | None:
        """The live session row this cookie names, or None."""
        payload = self._payload(cookie)
        if payload is None:
            return None
        return session.scalar(_ROW_BY_HASH, {"token_hash": _hash(payload["sid"])})

    def user(self, session: Session, cookie: str) -> User | None:
        """The active user of a live session, or None (signed out, expired, deactivated, forged)."""
        row = self.row(session, cookie)
        if row is None:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        now = utcnow()
        if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
            row.last_seen_at = now
        return user

    def csrf_token(self, cookie: str) -> str:
        payload = self._payload(cookie)
        sid = payload["sid"] if payload else ""
        return hmac.new(self._csrf_key, sid.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, cookie: str, supplied: str | None) -> bool:
        if not supplied or self._payload(cookie) is None:
            return False
        return hmac.compare_digest(self.csrf_token(cookie), supplied)

    # --- ending sessions --------------------------------------------------------------------
    def end(self, session: Session, cookie: str) -> None:
        """Sign this browser out: its cookie stops working everywhere at once."""
        row = self.row(session, cookie)
        if row is not None:
            session.delete(row)
            session.flush()


def list_sessions(session: Session, user: User) -> list[BrowserSession]:
    return list(session.scalars(
        select(BrowserSession).where(BrowserSession.user_id == user.id).order_by(BrowserSession.last_seen_at.desc())
    ))


def end_session(session: Session, user: User, session_id: int) -> None:
    """End one of this user's sessions; someone else's does not exist for them."""
    row = session.get(BrowserSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"There is no session {session_id}.")
    session.delete(row)
    session.flush()


def end_all_sessions(session: Session, user: User) -> int:
    """Sign the user out of every browser; returns how many sessions ended."""
    result = session.execute(delete(BrowserSession).where(BrowserSession.user_id == user.id))
    session.flush()
    return rows_changed(result) or 0


def delete_expired_sessions(session: Session, max_age_s: int) -> int:
    """Rows whose cookies can no longer be valid: kept only as clutter otherwise."""
    cutoff = utcnow() - dt.timedelta(seconds=max_age_s)
    result = session.execute(delete(BrowserSession).where(BrowserSession.created_at < cutoff))
    return rows_changed(result) or 0
