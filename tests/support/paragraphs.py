"""A real memo's draft paragraphs against the paragraphs its speaker spoke (blank lines in the
reference transcript)."""

from __future__ import annotations

import difflib

from tests.support.wer import normalise


def _words_with_breaks(paragraphs: list[str]) -> tuple[list[str], list[int]]:
    words, breaks = [], []
    for text in paragraphs:
        breaks.append(len(words))
        words += normalise(text).split()
    return words, breaks[1:]


def assert_breaks_like_reference(drafted: list[str], reference: str) -> None:
    """About as many paragraphs as spoken, and each break of the draft within 3 words of a
    spoken one (the words aligned by difflib, so misheard words do not shift the count)."""
    spoken = [p for p in reference.split("\n\n") if p.strip()]
    assert abs(len(drafted) - len(spoken)) <= 2, [p[:40] for p in drafted]
    said, said_breaks = _words_with_breaks(drafted)
    meant, meant_breaks = _words_with_breaks(spoken)
    aligned = {}  # word of the draft -> the same word in the reference
    for block in difflib.SequenceMatcher(None, said, meant, autojunk=False).get_matching_blocks():
        aligned.update((block.a + k, block.b + k) for k in range(block.size))
    for cut in said_breaks:
        here = next(k for k in range(cut, len(said)) if k in aligned)
        position = aligned[here] - (here - cut)
        assert min(abs(position - b) for b in meant_breaks) <= 3, " ".join(said[cut - 5:cut + 5])
