"""Accepted vocabulary applied to the model's words before composing: where the model still
heard the old form ("blood"), the form the desk learned ("blog") is written, as whole words
only, and each replacement is reported so the editor can mark it and the assistant undo it.

Matching is on a normalised key (case, apostrophes, punctuation), word by word: "bloods" is not
"blood", and a phrase never spans punctuation the model put inside it ("the cow. Al check").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dictation.transcribe.result import Transcript, Word

WORD = re.compile(r"\w+(?:['’\-]\w+)*")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_PARTS = re.compile(r"^(\s*)(\W*?)(\w.*\w|\w)(\W*)$", re.S)


def key(text: str) -> str:
    """The form two spellings are compared by: "Blog," and "blog" are one word."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    return " ".join(WORD.findall(text))


def whole_word(text: str) -> re.Pattern[str]:
    """`text` where it stands as whole words (not inside a longer word)."""
    return re.compile(r"(?<![\w'’\-])" + re.escape(text) + r"(?![\w'’\-]*\w)")


@dataclass(frozen=True)
class Learned:
    heard: str  # what the model wrote
    written: str  # what compose wrote instead
    start: float
    end: float
    occurrence: int  # which whole-word occurrence of `written` in the text this is (0 = first)


def substitute(transcript: Transcript, pairs: Sequence[tuple[str, str]]) -> tuple[Transcript, list[Learned]]:
    """The transcript with each heard form replaced by its written form, and the replacements."""
    rules: dict[str, list[tuple[list[str], str]]] = {}
    for heard, written in pairs:
        heard_keys = key(heard).split()
        if heard_keys and written.strip() and key(written) != key(heard):
            rules.setdefault(heard_keys[0], []).append((heard_keys, written.strip()))
    for candidates in rules.values():
        candidates.sort(key=lambda rule: -len(rule[0]))
    if not rules:
        return transcript, []
    applied: list[tuple[str, str, float, float]] = []
    segments = []
    for segment in transcript.segments:
        words, out, i = segment.words, list[Word](), 0
        while i < len(words):
            hit = _match(words, i, rules)
            if hit is None:
                out.append(words[i])
                i += 1
                continue
            j, written = hit
            first, last = _PARTS.match(words[i].word), _PARTS.match(words[j - 1].word)
            assert first is not None and last is not None  # _match only takes words with letters
            core = first.group(3)
            if core[:1].isupper() and written[:1].islower():
                written = written[:1].upper() + written[1:]  # a sentence's first word stays capitalised
            said = " ".join(w.word.strip() for w in words[i:j])
            out.append(Word(words[i].start, words[j - 1].end, first.group(1) + first.group(2) + written
                            + last.group(4), min(w.probability for w in words[i:j])))
            applied.append((said.strip(".,;:!?…\"'«» "), written, words[i].start, words[j - 1].end))
            i = j
        segments.append(replace(segment, words=out, text="".join(w.word for w in out) if out else segment.text))
    changed = replace(transcript, segments=segments)
    return changed, _numbered(changed, applied)


def _match(words: list[Word], i: int, rules: dict[str, list[tuple[list[str], str]]]) -> tuple[int, str] | None:
    for heard, written in rules.get(key(words[i].word), ()):
        j = i + len(heard)
        if j > len(words) or [key(w.word) for w in words[i:j]] != heard:
            continue
        inside = [w.word for w in words[i:j]]
        # Punctuation only before the first word and after the last: never across a sentence.
        if all(_PARTS.match(w) for w in inside) and not any(
            _PARTS.match(w).group(4) for w in inside[:-1]) and not any(  # type: ignore[union-attr]
            _PARTS.match(w).group(2) for w in inside[1:]):  # type: ignore[union-attr]
            return j, written
    return None


def _numbered(transcript: Transcript, applied: list[tuple[str, str, float, float]]) -> list[Learned]:
    """Each replacement with its rank among the written form's occurrences in the text, so a
    revert finds it in the draft (the model's own correct "blog" earlier counts too)."""
    out = []
    for heard, written, start, end in applied:
        before = "".join(w.word for w in transcript.words if w.end <= start)
        out.append(Learned(heard, written, start, end, len(whole_word(written).findall(before))))
    return out
