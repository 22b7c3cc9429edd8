"""A word-level diff of a draft against what the machine wrote, for the revisions panel.
Pieces are plain text; the template escapes them."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

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
