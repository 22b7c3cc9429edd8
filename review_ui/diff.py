"""Word-level diffs: a draft against what the machine wrote or against one of its revisions
(the editor's Changes panel), and what changed since the author last answered a request for
sign-off (their phone page). Pieces are plain text; the templates escape them."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dictation.memos import revisions
from dictation.models import Draft, User

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Piece:
    op: str  # same, added, removed
    text: str


@dataclass(frozen=True)
class DiffSummary:
    pieces: list[Piece]
    added: int  # words
    removed: int


def word_diff(before: str, after: str) -> DiffSummary:
    a, b = _TOKENS.findall(before or ""), _TOKENS.findall(after or "")
    pieces: list[Piece] = []
    added = removed = 0
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(Piece("removed", "".join(a[i1:i2])))
            removed += sum(1 for t in a[i1:i2] if not t.isspace())
        if j2 > j1:
            pieces.append(Piece("added", "".join(b[j1:j2])))
            added += sum(1 for t in b[j1:j2] if not t.isspace())
    return DiffSummary(pieces, added, removed)


@dataclass(frozen=True)
class SinceAnswer:
    """What changed since a signer last answered: the version they read, how they answered."""

    version: int
    signed: bool  # they signed it off (else they asked for changes)
    title_before: str | None  # the title they read, when it changed since
    body: DiffSummary


def since_answer(session: Session, draft: Draft, user: User) -> SinceAnswer | None:
    """None when `user` never answered, or the text is still the one they answered."""
    answer = revisions.last_answer(session, draft, user)
    if answer is None or answer[1] == draft.version:
        return None
    action, version = answer
    read = revisions.revision(session, draft, version)
    title_before = read.title if read.title != draft.title else None
    return SinceAnswer(version, action == "approve", title_before, word_diff(read.body_markdown, draft.body_markdown))
