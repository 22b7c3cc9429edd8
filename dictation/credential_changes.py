"""Credential changes, told to whoever keeps a recent verdict on a credential.

The API's door (api/recent.py) may answer a caller whose token it checked a moment ago without
reading the token's row again. That is only safe if a revocation, a deactivation or a role
change ends such verdicts at once, so every statement that writes the rows a verdict depends on
(users, API tokens, browser sessions) calls the listeners twice: before it runs, and once its
connection is back in the pool (its transaction committed or rolled back) or lost. A verdict
checked before the first mark could have read the old row, and so could one checked between the
two (the change was not committed yet): neither is used after the second.

Why at the engine, by the statement's text, and not by ORM events: a session's events miss Core
statements on a connection, text() SQL and bulk operations, and its after_commit also fires
when a savepoint is released (a later rollback would then go unmarked). Every `Database` of the
process watches its engine (dictation/db.py): the API's, the in-process worker's, mail-in's. The
one write left out is the use hint a check itself records (a token's last use, a browser's last
visit), told apart by its exact form; anything else on those tables, even a harmless new user,
ends the verdicts, which are then checked again. Changes made by other processes (psql, another
program) are not seen: the door keeps a verdict for one second (`api.recent.VERDICT_S`).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

# A statement that writes a row of users, api_tokens or browser_sessions (a user's deletion
# cascades to the others in the database, by its own DELETE FROM users).
_WRITES = re.compile(r'\s*(UPDATE|DELETE\s+FROM|INSERT\s+(OR\s+\w+\s+)?INTO|REPLACE\s+INTO)\s+"?'
                     r'(users|api_tokens|browser_sessions)\b', re.IGNORECASE)
# The use hints: one column set, nothing else (dictation/accounts/tokens.py and sessions.py).
_USE_HINT = re.compile(r'\s*UPDATE\s+"?(api_tokens|browser_sessions)"?\s+SET\s+"?(last_used_at|last_seen_at)"?'
                       r'\s*=\s*[^,]+?\s+WHERE\s', re.IGNORECASE)  # no comma: no second column

_listeners: list[weakref.WeakMethod[Callable[[], None]]] = []


def listen(mark: Callable[[], None]) -> None:
    """Call the bound method `mark` at every credential change of this process (see above).
    Held weakly: an app that is gone stops being told."""
    _listeners.append(weakref.WeakMethod(mark))


def _mark() -> None:
    for reference in list(_listeners):
        mark = reference()
        if mark is None:
            _listeners.remove(reference)
        else:
            mark()


def changes_credentials(statement: str) -> bool:
    return _WRITES.match(statement) is not None and _USE_HINT.match(statement) is None


def watch(engine: Engine) -> None:
    """Mark credential changes made through `engine`."""
    pending = object()  # the connection's info key: mark again when it is given back

    def executing(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if changes_credentials(statement):
            _mark()
            connection.info[pending] = True

    def given_back(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
        if record is not None and record.info.pop(pending, False):
            _mark()

    event.listen(engine, "before_cursor_execute", executing)
    event.listen(engine.pool, "checkin", given_back)
    event.listen(engine.pool, "invalidate", given_back)  # lost mid-transaction: its COMMIT may have landed
