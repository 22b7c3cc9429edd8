"""Language tables for compose: the spoken commands and fillers of dictation/compose/lang/<code>.toml,
loaded into rules that match the model's normalised words."""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from dictation.errors import InvalidInput, NotFound

LANG_DIR = Path(__file__).with_name("lang")
ACTIONS = ("paragraph", "line_break", "insert", "open_quote", "close_quote", "title", "scratch")


@dataclass(frozen=True)
class Rule:
    spoken: str  # the phrase as the table writes it
    phrase: tuple[str, ...]  # its normalised words
    action: str  # one of ACTIONS, or "filler"
    text: str = ""  # what "insert" puts in
    then: str = ""  # a second action: "point à la ligne" is "." then a paragraph
    set_off: str = ""  # "before", "after", "both": needs punctuation or a pause there
    not_after: frozenset[str] = frozenset()
    not_before: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LanguageTable:
    code: str
    rules: tuple[Rule, ...]
    open_quote: str
    close_quote: str
    space_before: dict[str, str] = field(default_factory=dict)  # French "\u202f" before "?"
    space_after: dict[str, str] = field(default_factory=dict)  # and "\u00a0" after "«"


def atoms(text: str) -> tuple[str, ...]:
    """Normalised words for matching; short words keep their accents ("à" is not "a")."""
    text = unicodedata.normalize("NFC", text).casefold()
    for quote in "’‘ʼ´`":
        text = text.replace(quote, "'")
    parts = (re.sub(r"^\W+|\W+$", "", p) for p in re.split(r"[\s'\-‐–—]+", text))
    fold = lambda p: "".join(c for c in unicodedata.normalize("NFKD", p) if not unicodedata.combining(c))  # noqa: E731
    return tuple(fold(p) if len(p) >= 4 else p for p in parts if p)


def lang_code(lang: str) -> str:
    return re.split(r"[-_]", (lang or "").strip().lower())[0]


@functools.cache
def load_language_table(lang: str) -> LanguageTable:
    code = lang_code(lang)
    path = LANG_DIR / f"{code}.toml"
    if not code.isalpha() or not path.is_file():
        raise NotFound(f"There is no table of dictation commands for the language {lang!r}; "
                       f"add dictation/compose/lang/{code or '<code>'}.toml to support it.", language=lang)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    guards = data.get("guards", {})
    words = lambda d, key: frozenset(a for w in d.get(key, []) for a in atoms(w))  # noqa: E731
    after, before = words(guards, "not_after"), words(guards, "not_before")
    rules = []
    for block in data.get("commands", []):
        action, text, then = block.get("action"), block.get("text", ""), block.get("then", "")
        if action not in ACTIONS or (action == "insert") != bool(text) or then not in ("", "paragraph", "line_break"):
            raise InvalidInput(f"{path.name}: the command block {block!r} needs an action among {ACTIONS}, "
                               "a text exactly when it inserts one, and a then of paragraph or line_break.")
        for phrase in block.get("phrases", []):
            rules.append(Rule(phrase, atoms(phrase), action, text, then, block.get("set_off", ""),
                              after | words(block, "not_after"), before | words(block, "not_before")))
    fillers = data.get("fillers", {})
    rules += [Rule(p, atoms(p), "filler") for p in fillers.get("always", [])]
    rules += [Rule(p, atoms(p), "filler", set_off="both") for p in fillers.get("set_off", [])]
    typography = data.get("typography", {})
    return LanguageTable(code, tuple(rules), typography.get("open_quote", "\""), typography.get("close_quote", "\""),
                         dict(typography.get("space_before", {})), dict(typography.get("space_after", {})))
