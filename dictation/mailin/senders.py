"""Whose memo a message is: the sender checks, and each user's secret memo address.

A From header is whatever the sender's program wrote, so it is believed only when the
envelope sender (MAIL FROM, or the Return-Path an IMAP mailbox keeps) names the same person.
Companies that trust neither use personal addresses: `memo+<secret>@…`, where the secret is
stored as its sha256 and shown once, like an API token; with `DICTATION_MAIL_IN_SECRET_ONLY`
nothing else is accepted.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dictation.errors import Forbidden
from dictation.models import User
from dictation.settings import Settings

# Lower-case letters and digits only: some mail servers lower-case the local part, and a
# secret must survive that. 24 characters of 32 symbols: 120 bits.
_SECRET_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
SECRET_LENGTH = 24


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.lower().encode("utf-8")).hexdigest()


def memo_address(settings: Settings) -> str:
    """The desk's address for memos (the part before + of every secret address)."""
    if settings.mail_in_address:
        return settings.mail_in_address.strip().lower()
    return f"memo@{urlsplit(settings.public_url).hostname or 'localhost'}"


def new_secret_address(session: Session, settings: Settings, user: User) -> str:
    """A new personal memo address for `user`, replacing any earlier one; returned once."""
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    user.mail_token_hash = _hash(secret)
    session.flush()
    mailbox, _, domain = memo_address(settings).partition("@")
    return f"{mailbox}+{secret}@{domain}"


def find_author(
    session: Session, settings: Settings, envelope_from: str | None, senders: Iterable[str], recipients: Iterable[str]
) -> User:
    """The active user this message is from, or Forbidden with a sentence for the sender."""
    by_secret = _by_secret_address(session, settings, recipients)
    if by_secret is not None:
        return by_secret
    by_envelope = _by_envelope(session, settings, envelope_from)
    by_header = next((u for u in (_user_by_email(session, a) for a in senders) if u is not None), None)
    if by_header is None or by_header.id != by_envelope.id:
        raise Forbidden(
            f"The envelope sender ({envelope_from}) and the From header ({', '.join(senders)}) are not the same "
            "person on this desk; a memo is taken only when both are yours. Your personal memo address works "
            "from anywhere."
        )
    return by_envelope


def screen_recipient(session: Session, settings: Settings, envelope_from: str | None, recipient: str) -> None:
    """What can be checked before the message itself is sent (SMTP RCPT): the secret address, or
    else the envelope sender. A stranger's 100 MB is refused before it travels; the From header
    is checked once the message is there (`find_author`)."""
    if _by_secret_address(session, settings, [recipient]) is None:
        _by_envelope(session, settings, envelope_from)


def _by_secret_address(session: Session, settings: Settings, recipients: Iterable[str]) -> User | None:
    for recipient in recipients:
        secret = _plus_tag(recipient, memo_address(settings))
        if secret is None:
            continue
        user = session.scalar(select(User).where(User.mail_token_hash == _hash(secret)))
        if user is None:
            raise Forbidden(
                f"{_shown(recipient)} is not (or no longer) anyone's memo address; "
                "your current one is on your Tokens page in the desk."
            )
        return _active(user)
    return None


def _by_envelope(session: Session, settings: Settings, envelope_from: str | None) -> User:
    if settings.mail_in_secret_only:
        raise Forbidden(
            "This desk takes memos only at your personal memo address (memo+...); "
            "you find it on your Tokens page in the desk."
        )
    envelope = (envelope_from or "").strip().lower()
    if not envelope:
        raise Forbidden("This message has no envelope sender (as bounces have); memos must come from a person.")
    user = _user_by_email(session, envelope)
    if user is None:
        raise Forbidden(
            f"{envelope} is not the address of anyone on this desk: send from the address you sign in "
            "with, or to your personal memo address."
        )
    return _active(user)


def _plus_tag(address: str, desk_address: str) -> str | None:
    """The secret of a `memo+<secret>@domain` recipient; None for any other address (a Cc to
    someone's own plus address is not an attempt at ours)."""
    local, _, domain = address.strip().lower().rpartition("@")
    mailbox, plus, secret = local.partition("+")
    if not plus or f"{mailbox}@{domain}" != desk_address:
        return None
    return secret or None


def _shown(address: str) -> str:
    # Echo the address back without its secret: replies end up in logs and other people's inboxes.
    local, _, domain = address.strip().partition("@")
    return f"{local.partition('+')[0]}+...@{domain}"


def _user_by_email(session: Session, address: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == address.lower()))


def _active(user: User) -> User:
    if not user.is_active:
        raise Forbidden(f"The account of {user.email} is deactivated; ask an admin to turn it back on.")
    return user
