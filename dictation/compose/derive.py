"""Slug, excerpt and tags from the title and body as edited, for the fields nobody set by hand.

compose() makes the first ones from the transcript; once the assistant edits the title or the
body, these follow the edited text (the blog's address and summary must not keep a misheard
word the assistant fixed). One rule for the desk, the API and the preview.
- Slug: the title's, as compose makes it.
- Excerpt: the body as plain text (Markdown marks and escapes dropped), cut at a word at
  OPTIONS.excerpt_max_chars with an ellipsis, as compose cuts it.
- Tags: up to MAX_TAGS words the text keeps coming back to: at least TAG_MIN_COUNT times,
  title words counted twice, of TAG_MIN_LETTERS letters or more, not a common word of
  English or French; ties go to the word said first. A guess to correct, not a judgement.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from dictation.compose.options import ComposeOptions
from dictation.compose.text import shorten, slugify
from dictation.errors import InvalidInput

DERIVED = ("slug", "excerpt", "tags")
MAX_TAGS = 3
TAG_MIN_COUNT = 3
TAG_MIN_LETTERS = 5
OPTIONS = ComposeOptions()

# Long common words that would otherwise win on a long memo; short ones are cut by length.
_COMMON = frozenset("""
about above after again against because before being below between could doing during
every first going their there these thing things think those through today under until
where which while would should shall might maybe really right still other people little
actually basically point comma period paragraph
avant après alors aussi autre autres avoir cette comme depuis encore entre faire leurs
notre nous vous parce pendant peut plus pour quand quelque sans sont tous toutes votre
être était étaient aujourd'hui point virgule paragraphe
""".split())

# Linear: a label stops at any bracket, an address at any parenthesis but one balanced pair
# (Foo_(bar)). The former `\[([^\]]*)\]\([^)]*\)` went back over the rest of the text from
# every bracket: 30,000 characters of `[[[...]]]` took 10 s, 300,000 of `[x](a` 25 s.
_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d{1,9}[.)]\s+)", re.MULTILINE)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>&|~=])")
_WORD = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?")


def plain_text(markdown: str) -> str:
    """The body as a reader sees it, on one line: no Markdown marks, no escapes."""
    text = re.sub(r"\\\n", " ", markdown or "")  # a dictated line break
    # Escaped characters are text: set aside (as private-use characters) while marks go.
    text = _ESCAPE.sub(lambda m: chr(0xE000 + ord(m.group(1))), text)
    text = _LINK.sub(r"\1", text)
    text = _MARKS.sub("", text)
    text = re.sub(r"(\*\*|__|\*|_|`|~~)(?=\S)|(?<=\S)(\*\*|__|\*|_|`|~~)", "", text)
    text = re.sub("[\ue000-\ue0ff]", lambda m: chr(ord(m.group(0)) - 0xE000), text)
    return re.sub(r"\s+", " ", text).strip()


def excerpt_of(markdown: str) -> str:
    return shorten(plain_text(markdown), OPTIONS.excerpt_max_chars, "…")


def slug_of(title: str) -> str:
    return slugify(title or "")


def tags_of(title: str, markdown: str) -> list[str]:
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    words = [(w, 2) for w in _WORD.findall(title or "")] + [(w, 1) for w in _WORD.findall(plain_text(markdown))]
    for position, (word, weight) in enumerate(words):
        key = word.casefold().replace("’", "'")
        if len(key) < TAG_MIN_LETTERS or key in _COMMON:
            continue
        counts[key] += weight
        first_seen.setdefault(key, position)
    ranked = sorted((k for k, n in counts.items() if n >= TAG_MIN_COUNT), key=lambda k: (-counts[k], first_seen[k]))
    return ranked[:MAX_TAGS]  # in lower case: a tag names a topic, not a sentence start


def derived(title: str, markdown: str) -> dict[str, object]:
    """Every derived field for this text: {"slug": ..., "excerpt": ..., "tags": [...]}."""
    return {"slug": slug_of(title), "excerpt": excerpt_of(markdown), "tags": tags_of(title, markdown)}


def with_derived(changes: Mapping[str, object], manual_fields: Sequence[str], title: str, body: str,
                 published: bool, automatic: Sequence[str] = ()) -> dict[str, object]:
    """A save's `changes` plus what follows from them, and the new `manual_fields`: a derived
    field sent is now set by hand, one in `automatic` follows the text again, and the others
    are made again from the title and body (`title`, `body`: the draft's before the save).
    A published post's slug is its address: it no longer follows the title (a changed title
    must not move the post); only a slug typed by hand moves it."""
    wrong = [name for name in automatic if name not in DERIVED]
    if wrong:
        raise InvalidInput(f"'{wrong[0]}' is not made from the text; only {', '.join(DERIVED)} are.")
    manual = [name for name in manual_fields if name not in automatic]
    manual += [name for name in DERIVED if name in changes and name not in manual and name not in automatic]
    out: dict[str, object] = {**changes, "manual_fields": manual}
    made = derived(str(changes.get("title", title)), str(changes.get("body_markdown", body)))
    for name in DERIVED:
        if name not in manual and not (name == "slug" and published):
            out[name] = made[name]
    return out
