"""Browser sessions: signed cookies with a CSRF token per session."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from dictation.models import User


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
