"""The text side of compose: words to lines, Markdown escaping, titles, excerpts, slugs.

`render_lines` takes compose's words (anything with lead, core, trail, glued and
after_terminal) and LINE_BREAK markers; the rest work on finished strings, so publishing
shares them (a slug for a title the assistant typed).
- Casing: a capital Whisper put only because a sentence ended there is undone when a
  command joined the sentences ("hello. comma" -> "hello, how"); "I" keeps its capital.
- Markdown: what would change meaning is escaped, words are kept (`<script>` stays
  text: the renderer escapes HTML).
"""

from __future__ import annotations

import re

from slugify import slugify as _python_slugify

CLOSERS = ")]}»”’\"'"
LINE_BREAK = None  # a dictated line break inside a paragraph
_HIGH = ";:!?"  # French puts a narrow space before these, but one only before "?!"
_START, _MID, _KEEP = "start", "mid", "keep"  # how to case the next word
# Trimmed off a cut title or excerpt: an end on these reads as a mistake.
_DANGLING = " ,;:.-–—\u00a0\u202f«“("


def ends_sentence(item) -> bool:
    bare = item.trail.rstrip(CLOSERS) if item is not LINE_BREAK else ""
    return bool(bare) and bare[-1] in ".?!" and not bare.endswith("..")


def _spaced(marks: str, spaces: dict[str, str], before: bool) -> str:
    out = ""
    for c in marks:
        space = spaces.get(c, "")
        if before and space and not (c in _HIGH and out and out[-1] in _HIGH):
            out += space
        out += c + ("" if before else space)
    return out


def _cased(word, state: str) -> str:
    core = word.core
    if state == _START:
        return core[:1].upper() + core[1:]
    positional = word.after_terminal and len(core) > 1 and core[0].isupper() and core[1:].islower()
    if state == _MID and positional and not re.match(r"I\W", core):
        return core[0].lower() + core[1:]
    return core


def render_lines(items: list, table) -> list[str]:
    """Words and LINE_BREAKs as lines of text, spaced as the language table says."""
    lines, line, state = [], "", _START
    for item in items:
        if item is LINE_BREAK:
            lines.append(line)
            line, state = "", _START
            continue
        text = (_spaced(item.lead, table.space_after, False) + _cased(item, state)
                + _spaced(item.trail, table.space_before, True))
        line += text if not line or item.glued else " " + text
        bare = item.trail.rstrip(CLOSERS)
        state = _START if ends_sentence(item) else _KEEP if bare.endswith(("…", "..")) else _MID
    lines.append(line)
    return [text for text in lines if text]


def escape_markdown(line: str) -> str:
    """One line of plain text as Markdown that renders back to exactly that text."""
    line = re.sub(r"[\\`*_\[\]]|<(?=[A-Za-z/!?])|&(?=#?\w+;)", lambda m: "\\" + m.group(0), line)
    if line[:1] in ("#", ">", "+", "-", "=", "~", "|"):
        return "\\" + line
    return re.sub(r"^(\d{1,9})([.)])(?=\s|$)", r"\1\\\2", line)  # "1. " would start a list


def shorten(text: str, limit: int, ellipsis: str = "") -> str:
    """At most `limit` characters, cut at a word boundary, `ellipsis` added when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis) + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > 0 else cut[: limit - len(ellipsis)]
    return cut.rstrip(_DANGLING) + ellipsis


def title_from_text(text: str, limit: int) -> str:
    """A title from a spoken title or a first sentence: no end punctuation, capitalised."""
    text = shorten(text.strip(), limit).rstrip(" .!?…" + _DANGLING)
    return text[:1].upper() + text[1:]


def slugify(title: str, max_chars: int = 60) -> str:
    """ASCII, lower case, accents folded: "Stratégie d'été" -> "strategie-d-ete"."""
    title = re.sub(r"[’‘ʼ]", "'", title)
    return _python_slugify(title, max_length=max_chars, word_boundary=True)
