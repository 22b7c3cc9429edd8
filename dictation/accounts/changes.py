"""Credential changes, told to whoever keeps a recent verdict on a credential.

The API's door (api/recent.py) may answer a caller whose token it checked a moment ago without
reading the token's row again. That is only safe if a revocation, a deactivation or a role
change ends such verdicts at once, so every change to the rows a verdict depends on (users, API
tokens, browser sessions) calls `mark` twice: when it is flushed or executed, and after its
commit. A verdict checked before the second mark is not used after it; one checked before the
first could have read the old row, and one checked between the two could too (the change was
not committed yet), so both are dropped. Watching the session, not the functions that revoke or
deactivate, means a change made by any code path, present or future, is seen: the cost is that
harmless changes (a token's last use, a new user) end verdicts too, which are then checked again.
Changes made outside this process's sessions (psql, another program) are not seen: the door
keeps a verdict only for `api.recent.VERDICT_S`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import InstanceState, ORMExecuteState, Session, sessionmaker

from dictation.models import ApiToken, BrowserSession, User

# The rows a caller's credential is judged by.
CREDENTIAL_ROWS = (User, ApiToken, BrowserSession)
# Columns a check writes, that no check reads (see tokens.user_for_token: a Core statement, which
# `executing` does not see, for the token's).
USE_HINTS = frozenset({"last_used_at", "last_seen_at"})


def _changes_credential(session: Session, row: object) -> bool:
    if not isinstance(row, CREDENTIAL_ROWS):
        return False
    if row in session.new or row in session.deleted:
        return True
    state: InstanceState[object] = inspect(row)
    return any(attribute.history.has_changes() for attribute in state.attrs if attribute.key not in USE_HINTS)


def watch(sessions: sessionmaker[Session], mark: Callable[[], None]) -> None:
    """Call `mark` on every change to credential rows made through `sessions`, before and after
    it is committed."""
    changed = object()  # session.info key, one per watcher: mark again after the commit

    def flushing(session: Session, _context: Any, _instances: Any) -> None:
        if any(_changes_credential(session, row) for rows in (session.new, session.dirty, session.deleted)
               for row in rows):
            _changing(session)

    def executing(state: ORMExecuteState) -> None:
        # Bulk UPDATE and DELETE statements, which no flush sees (signing out everywhere deletes
        # the sessions in one statement).
        if (state.is_update or state.is_delete) and any(
                mapper.class_ in CREDENTIAL_ROWS for mapper in state.all_mappers):
            _changing(state.session)

    def _changing(session: Session) -> None:
        mark()
        session.info[changed] = True

    def committed(session: Session) -> None:
        if session.info.pop(changed, False):
            mark()

    def rolled_back(session: Session) -> None:
        session.info.pop(changed, None)  # nothing changed; the first mark did no harm

    event.listen(sessions, "before_flush", flushing)
    event.listen(sessions, "do_orm_execute", executing)
    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)
