"""How a transcript becomes a draft: the knobs, each with why it has its value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ComposeOptions:
    # A silence this long after a sentence starts a paragraph, whoever speaks.
    pause_for_paragraph: float = 2.0
    # People mark paragraphs with far shorter pauses than that (0.64-1.0 s in our memos,
    # against 0.32-0.6 s between sentences), so a sentence-end pause this many times the
    # speaker's short sentence gap starts a paragraph too (tuned on an English and a French
    # memo: 1.7 leaves a 10 % margin to their longest sentence gap and shortest paragraph one)...
    paragraph_pause_ratio: float = 1.7
    # ...that short gap being this quantile of the memo's sentence-end pauses: paragraph
    # breaks are up to 40 % of them and pull the median into their range...
    typical_pause_quantile: float = 0.1
    # ...never a pause shorter than this: a fast talker's sentence gap is not a paragraph...
    min_paragraph_pause: float = 0.5
    # ...and only with this many measured sentence-end pauses: fewer tell nothing of a pace.
    min_pauses_to_adapt: int = 6
    # A paragraph cut at a short pause or for length keeps this many words each side: a closing
    # "Thanks." stays with the sentences before it.
    min_paragraph_words: int = 8
    # Longer paragraphs are hard to read on a blog: cut at the longest sentence-end pause.
    max_paragraph_words: int = 120
    # An author who dictates "new paragraph" has chosen their paragraphs: short pauses then
    # start none (the long pause and the length rules still apply).
    pauses_beside_commands: bool = False
    # A silence this long ends a spoken title even when Whisper put no full stop after it.
    pause_ends_title: float = 1.0
    # A silence this long beside a phrase sets it off as a comma would (commands, fillers).
    pause_sets_off: float = 0.7
    # Blog themes cut long titles badly; we cut at a word boundary first.
    title_max_chars: int = 70
    # Feeds and link previews show about this much.
    excerpt_max_chars: int = 160
    # Overrides the detected language when the model got it wrong ("fr", "en"); None = detected.
    language: str | None = None
    # Accepted vocabulary, (heard, written): written where the model still hears the old form
    # (compose/learned.py); each replacement is reported in Draft.learned.
    substitutions: tuple[tuple[str, str], ...] = ()
