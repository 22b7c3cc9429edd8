"""Word-level diffs: a draft against what the machine wrote or against one of its revisions
(the editor's Changes panel), and what changed since the author last answered a request for
sign-off (their phone page). Pieces are plain text; the templates escape them.

Bounded in work (a diff runs on each request, on texts of up to 300,000 characters): difflib
with autojunk=False is quadratic and worse, so 10,000 characters against "a a a ..." took a
minute of CPU. The text is compared line by line first (few items), then the changed lines
sentence by sentence, then the changed sentences word by word. Each level goes straight to
words when the pair is small (len(a) * len(b) tokens up to WORD_PAIRS: every ordinary edit).
Every comparison is charged what difflib's longest-match loop will walk (one step per
position and per candidate match) before it runs, against MAX_STEPS for the whole diff; a
pair that would pass it, or is too large for words, is shown whole: removed, then added, less
the words both sides start and end with."""

from __future__ import annotations

import difflib
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dictation.memos import revisions
from dictation.models import Draft, User

_TOKENS = re.compile(r"\s+|[^\s]+")
_LINE_ENDS = re.compile(r"\n\s*")  # a line with the blank lines after it: few repeated units
# After a sentence's end mark and the whitespace that follows it, or after a line's end and
# its whitespace: always between a whitespace token and a word, never inside a token.
_SENTENCE_ENDS = re.compile(r"(?<=[.!?…])\s+|\n\s*")

MAX_STEPS = 2_000_000  # difflib longest-match steps for one diff: about half a second at most
WORD_PAIRS = 1_000_000  # len(a) * len(b) tokens for a word diff of one changed pair


@dataclass(frozen=True)
class Piece:
    op: str  # same, added, removed
    text: str


@dataclass(frozen=True)
class DiffSummary:
    pieces: list[Piece]
    added: int  # words
    removed: int
    steps: int = 0  # difflib work spent, at most MAX_STEPS
    whole: int = 0  # changed pairs shown whole, too large to compare word by word


class _OverBudget(Exception):
    pass


class _Budget:
    def __init__(self, steps: int) -> None:
        self.left = self.total = steps
        self.whole = 0


class _Matcher(difflib.SequenceMatcher[str]):
    """SequenceMatcher that pays for each longest-match search before it runs: for each
    position of a in the range, one step plus the candidate positions of b it will walk (those
    before bhi, b2j's lists being sorted). Raises _OverBudget rather than pass the budget."""

    a: Sequence[str]  # difflib's own, set by its constructor
    b: Sequence[str]
    b2j: dict[str, list[int]]

    def __init__(self, a: Sequence[str], b: Sequence[str], budget: _Budget) -> None:
        self._budget = budget
        super().__init__(None, a, b, autojunk=False)

    def find_longest_match(self, alo: int = 0, ahi: int | None = None, blo: int = 0,
                           bhi: int | None = None) -> difflib.Match:
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        a, b2j, left = self.a, self.b2j, self._budget.left
        cost = ahi - alo
        if cost > left:
            raise _OverBudget
        for i in range(alo, ahi):
            positions = b2j.get(a[i])
            if positions:
                cost += bisect_left(positions, bhi)
                if cost > left:
                    raise _OverBudget
        self._budget.left = left - cost
        return super().find_longest_match(alo, ahi, blo, bhi)


class _Out:
    """Pieces in order, a piece's text joined once at the end; neighbours of one kind merge."""

    def __init__(self) -> None:
        self.ops: list[str] = []
        self.parts: list[list[str]] = []
        self.added = self.removed = 0

    def add(self, op: str, tokens: Sequence[str]) -> None:
        if not tokens:
            return
        if op != "same":
            words = sum(1 for t in tokens if not t.isspace())
            if op == "added":
                self.added += words
            else:
                self.removed += words
        if self.ops and self.ops[-1] == op:
            self.parts[-1].extend(tokens)
        else:
            self.ops.append(op)
            self.parts.append(list(tokens))

    def pieces(self) -> list[Piece]:
        return [Piece(op, "".join(parts)) for op, parts in zip(self.ops, self.parts, strict=True)]


def _cut(ends: re.Pattern[str]) -> Callable[[str], list[str]]:
    def cut(text: str) -> list[str]:
        units, start = [], 0
        for m in ends.finditer(text):
            if m.end() > start:
                units.append(text[start:m.end()])
                start = m.end()
        if start < len(text):
            units.append(text[start:])
        return units
    return cut


_LEVELS = [_cut(_LINE_ENDS), _cut(_SENTENCE_ENDS)]  # then words


def _common_ends(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """How many items a and b start with alike, and end with alike after those."""
    start, end, shortest = 0, 0, min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    while end < shortest - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return start, end


def _whole(a: list[str], b: list[str], budget: _Budget, out: _Out) -> None:
    """The pair as one removed and one added passage, less the tokens both start and end with."""
    budget.whole += 1
    start, end = _common_ends(a, b)
    out.add("same", a[:start])
    out.add("removed", a[start:len(a) - end])
    out.add("added", b[start:len(b) - end])
    out.add("same", a[len(a) - end:])


def _compare(before: str, after: str, level: int, budget: _Budget, out: _Out) -> None:
    a, b = _TOKENS.findall(before), _TOKENS.findall(after)
    if len(a) * len(b) <= WORD_PAIRS or level == len(_LEVELS):
        start, end = _common_ends(a, b)  # an edit's words, not the whole pair, are compared
        out.add("same", a[:start])
        a_mid, b_mid = a[start:len(a) - end], b[start:len(b) - end]
        if len(a_mid) * len(b_mid) > WORD_PAIRS:
            _whole(a_mid, b_mid, budget, out)
        else:
            try:
                opcodes = _Matcher(a_mid, b_mid, budget).get_opcodes()
            except _OverBudget:
                _whole(a_mid, b_mid, budget, out)
            else:
                for op, i1, i2, j1, j2 in opcodes:
                    if op == "equal":
                        out.add("same", a_mid[i1:i2])
                    else:
                        out.add("removed", a_mid[i1:i2])
                        out.add("added", b_mid[j1:j2])
        out.add("same", a[len(a) - end:])
        return
    ua, ub = _LEVELS[level](before), _LEVELS[level](after)
    start, end = _common_ends(ua, ub)
    out.add("same", _TOKENS.findall("".join(ua[:start])))
    ua_mid, ub_mid = ua[start:len(ua) - end], ub[start:len(ub) - end]
    if len(ua_mid) <= 1 and len(ub_mid) <= 1:  # nothing more to cut at this level
        _compare("".join(ua_mid), "".join(ub_mid), level + 1, budget, out)
    else:
        try:
            opcodes = _Matcher(ua_mid, ub_mid, budget).get_opcodes()
        except _OverBudget:
            _whole(_TOKENS.findall("".join(ua_mid)), _TOKENS.findall("".join(ub_mid)), budget, out)
        else:
            for op, i1, i2, j1, j2 in opcodes:
                if op == "equal":
                    out.add("same", _TOKENS.findall("".join(ua_mid[i1:i2])))
                else:
                    _compare("".join(ua_mid[i1:i2]), "".join(ub_mid[j1:j2]), level + 1, budget, out)
    out.add("same", _TOKENS.findall("".join(ua[len(ua) - end:])))


def word_diff(before: str, after: str, *, max_steps: int = MAX_STEPS) -> DiffSummary:
    budget, out = _Budget(max_steps), _Out()
    _compare(before or "", after or "", 0, budget, out)
    return DiffSummary(out.pieces(), out.added, out.removed, budget.total - budget.left, budget.whole)


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
