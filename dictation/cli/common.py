"""What the command groups share: the migrated database, and secrets read without echo."""

from __future__ import annotations

import getpass
import sys

from dictation.db import Database


def open_database() -> Database:
    from dictation.migrations import upgrade
    from dictation.settings import get_settings

    database = Database(get_settings())
    upgrade(database)
    return database


def read_secret(from_stdin: bool, prompt: str) -> str | None:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
        return value or None
    if sys.stdin.isatty():
        return getpass.getpass(prompt) or None
    return None
