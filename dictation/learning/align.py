"""The machine's words beside the published text, word by word: which words a person wrote
otherwise. Pure functions; `service` stores what they find.

- Both sides are cut into words the same way and compared on a normalised key (case, accents
  kept; apostrophes unified; punctuation gone), with difflib's longest-match alignment.
- Only short replacements are corrections (up to MAX_WORDS words on each side): a longer one is
  a rewrite, not a mishearing. Insertions and deletions are editing, never learned.
- A correction sits between words both sides share: at least ANCHOR_WORDS of them around it
  (the text's start or end counting as one), else it is part of a rewritten passage where
  difflib matched a stray "the".
- A replacement with a digit in it is formatting ("twenty" → "20"), not vocabulary.
- The machine's side is what compose kept (spoken commands and fillers left out), so "comma"
  or "um" removed by compose never reads as a word the assistant deleted.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from dictation.compose.learned import WORD, key

MAX_WORDS = 3
ANCHOR_WORDS = 3
CONTEXT_WORDS = 4
# Markdown a draft may hold: escapes, emphasis, headings, links' targets.
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_SENTENCE_END = re.compile(r"(^|[.!?:…]['\"»”)\]]*)\s*$")


@dataclass(frozen=True)
class HeardWord:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Substitution:
    heard: str
    written: str
    start: float
    end: float
    context: str  # published words around the written form
    is_name: bool  # capitalised where a sentence does not start: a name, learned from one memo


def heard_words(words: list[tuple[str, float, float]]) -> list[HeardWord]:
    """The model's kept words, cut like the published text (a "re-run" token is one word)."""
    out: list[HeardWord] = []
    for text, start, end in words:
        out.extend(HeardWord(part, start, end) for part in WORD.findall(text))
    return out


def written_words(markdown: str) -> list[tuple[str, bool]]:
    """The published text's words, each with whether a sentence (or a line) starts at it."""
    text = _LINK_TARGET.sub("]", markdown).replace("\\", "")
    out = []
    for match in WORD.finditer(text):
        before = text[max(0, match.start() - 40):match.start()]
        line_start = "\n" in before and not before.rsplit("\n", 1)[1].strip(" #>*-_[")
        out.append((match.group(), bool(_SENTENCE_END.search(before.rstrip(" #>*_[("))) or line_start))
    return out


def substitutions(heard: list[HeardWord], published_markdown: str) -> list[Substitution]:
    """Each short replacement between what the model heard and what was published."""
    written = written_words(published_markdown)
    a = [key(w.text) for w in heard]
    b = [key(w) for w, _ in written]
    found: list[Substitution] = []
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()

    def shared(k: int) -> int:  # words both sides have at op k; the text's edge counts as one
        if k < 0 or k >= len(ops):
            return 1
        return ops[k][2] - ops[k][1] if ops[k][0] == "equal" else 0

    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        if op != "replace" or i2 - i1 > MAX_WORDS or j2 - j1 > MAX_WORDS:
            continue
        before, after = shared(n - 1), shared(n + 1)
        if not before or not after or before + after < ANCHOR_WORDS:
            continue
        # Same length: word for word ("jerry banke" → "Jeri Bank"); else one unit ("cow al check" → "Kowalczyk").
        pairs = [(i, i + 1, j, j + 1) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)] \
            if i2 - i1 == j2 - j1 else [(i1, i2, j1, j2)]
        for hi, hj, wi, wj in pairs:
            said = " ".join(w.text for w in heard[hi:hj])
            wrote = " ".join(w for w, _ in written[wi:wj])
            if key(said) == key(wrote) or any(c.isdigit() for c in said + wrote):
                continue
            context = " ".join(w for w, _ in written[max(0, wi - CONTEXT_WORDS):wj + CONTEXT_WORDS])
            capitals = [k for k, c in enumerate(wrote) if c.isupper()]
            is_name = bool(capitals) and (capitals != [0] or not written[wi][1])
            found.append(Substitution(said, wrote, heard[hi].start, heard[hj - 1].end, context, is_name))
    return found
