"""Personal API tokens: shown once, stored as sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, bindparam, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from dictation.db import utcnow
from dictation.errors import InvalidInput, NotFound
from dictation.loopread import AwaitedReader, Unanswered
from dictation.models import ApiToken, Role, User

TOKEN_PREFIX = "dd_"
# last_used_at is a hint for people pruning tokens; writing it on every request would make
# every API call a write (and on SQLite, a lock), so it is refreshed at most this often.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


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


# The owner's columns by attribute name, read beside the token's in one statement.
_OWNER_COLUMNS = tuple((prop.key, prop.columns[0]) for prop in inspect(User).column_attrs)
_OWNER_ACTIVE = 3 + [key for key, _ in _OWNER_COLUMNS].index("is_active")  # its place in a row
_OWNER_QUERY = (
    select(ApiToken.id, ApiToken.revoked_at, ApiToken.last_used_at, *(column for _, column in _OWNER_COLUMNS))
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def user_for_token(session: Session, token: str) -> User | None:
    """The active owner of a valid, unrevoked token, or None. Read on the session's connection,
    without flushing: call it in a session with no unflushed change to tokens (identify's own)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    # This runs on every API request: one plain statement, the owner built from its row and put
    # into the session as loaded. Loading the token and its owner as ORM entities cost ~0.45 ms
    # of CPU more a request (0.6 ms against 0.15), a tenth of a read under bench/load.py. On the
    # session's connection, with the hash as a parameter: the session's own execute of the same
    # statement (ORM compile state, a new cache key per hash) cost 0.33 ms more (0.61 against
    # 0.28 ms for a whole short session, sequential, 3 December).
    row = session.connection().execute(_OWNER_QUERY, {"token_hash": _token_hash(token)}).first()
    if row is None or row.revoked_at is not None:
        return None
    owner = _owner_of(row)
    # An owner already in this session is the one to return, as an ORM load would: merging the
    # row without loading would overwrite it and drop changes it has not flushed yet.
    present = session.identity_map.get(session.identity_key(User, owner.id))
    if not (present if present is not None else owner).is_active:
        return None
    if _use_due(row.last_used_at):
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=utcnow()))
    if present is not None:
        return present
    make_transient_to_detached(owner)
    return session.merge(owner, load=False)


def token_owner(connection: Connection, token: str) -> User | None:
    """`user_for_token`'s owner where it would write nothing, without a session: for a valid,
    unrevoked token of an active owner whose use is not due to be recorded, the owner (detached,
    built from the row); else None (refused, or a use to record: ask `user_for_token`, which
    also words a refusal). For a check on a read-only connection."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return _owner_if_valid(connection.execute(_OWNER_QUERY, {"token_hash": _token_hash(token)}).first())


async def token_owner_awaited(reader: AwaitedReader, token: str) -> User | None:
    """`token_owner` read on the event loop from PostgreSQL; None also when the reader cannot
    answer now."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    try:
        return _owner_if_valid(await reader.first(_OWNER_QUERY, {"token_hash": _token_hash(token)}))
    except Unanswered:
        return None


def _owner_if_valid(row: Sequence[Any] | None) -> User | None:
    """The owner of a row of `_OWNER_QUERY` (id, revoked_at, last_used_at, the owner's columns)
    when its token works and its use is not due to be recorded."""
    if row is None or row[1] is not None or not row[_OWNER_ACTIVE] or _use_due(row[2]):
        return None
    owner = _owner_of(row)
    make_transient_to_detached(owner)
    return owner


def _owner_of(row: Sequence[Any]) -> User:
    """The owner built from a row of `_OWNER_QUERY`, transient (not read again)."""
    return User(**{key: row[3 + index] for index, (key, _) in enumerate(_OWNER_COLUMNS)})


def _use_due(last_used_at: dt.datetime | None) -> bool:
    """Whether a token's use is to be written now: once in each LAST_USED_RESOLUTION at most."""
    return last_used_at is None or utcnow() - last_used_at > LAST_USED_RESOLUTION


def visible_tokens_query(user: User) -> Select[ApiToken]:
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
