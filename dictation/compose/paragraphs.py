"""Paragraphs from this speaker's pauses, and over-long ones cut at their longest pause.

People pause 0.6-1 s between paragraphs against 0.3-0.6 s between sentences: a fixed rule
misses them, so the threshold adapts to the memo (see ComposeOptions)."""

from __future__ import annotations

from dictation.compose.options import ComposeOptions
from dictation.compose.text import LINE_BREAK, ends_sentence

# A sentence end with (almost) no silence is where the model cut two segments or guessed
# the timings, not a measure of the speaker: it is left out of their typical pause.
_UNMEASURED = 0.1


def word_count(items: list) -> int:
    return sum(item is not LINE_BREAK for item in items)


def sentence_ends(items: list, opts: ComposeOptions) -> list[int]:
    """Where a paragraph may be cut: after a sentence, with enough words on both sides."""
    ends, seen, total = [], 0, word_count(items)
    for k, item in enumerate(items):
        if item is LINE_BREAK:
            continue
        seen += 1
        if ends_sentence(item) and min(seen, total - seen) >= opts.min_paragraph_words:
            ends.append(k)
    return ends


def _cut(items: list, at: list[int]) -> list[list]:
    pieces, start = [], 0
    for k in at + [len(items) - 1]:
        piece = items[start:k + 1]
        while piece and piece[0] is LINE_BREAK:
            piece.pop(0)
        pieces.append(piece)
        start = k + 1
    return [piece for piece in pieces if piece]


def _shortened(items: list, opts: ComposeOptions) -> list[list]:
    """An over-long paragraph cut at its longest sentence-end pause (nearest the middle on a tie)."""
    ends = sentence_ends(items, opts)
    if word_count(items) <= opts.max_paragraph_words or not ends:
        return [items]
    k = max(ends, key=lambda k: (items[k].pause_after or 0.0, -abs(2 * k - len(items))))
    head, tail = _cut(items, [k])
    return _shortened(head, opts) + _shortened(tail, opts)


def paced(paragraphs: list[list], opts: ComposeOptions, dictated: bool) -> list[list]:
    """Paragraphs cut where this speaker paused clearly longer than between sentences."""
    pauses = sorted(x.pause_after for items in paragraphs for x in items if x is not LINE_BREAK
                    and ends_sentence(x) and (x.pause_after or 0.0) > _UNMEASURED)
    threshold = float("inf")
    if len(pauses) >= opts.min_pauses_to_adapt and (opts.pauses_beside_commands or not dictated):
        position = opts.typical_pause_quantile * (len(pauses) - 1)
        low, high = pauses[int(position)], pauses[min(int(position) + 1, len(pauses) - 1)]
        typical = low + (high - low) * (position - int(position))
        threshold = max(opts.min_paragraph_pause, opts.paragraph_pause_ratio * typical)
    out = []
    for items in paragraphs:
        at: list[int] = []
        for k in sentence_ends(items, opts):
            if items[k].pause_after is not None and items[k].pause_after >= threshold \
                    and word_count(items[at[-1] + 1 if at else 0:k + 1]) >= opts.min_paragraph_words:
                at.append(k)
        out += [short for piece in _cut(items, at) for short in _shortened(piece, opts)]
    return out
