"""Transcript → draft: spoken commands, filler words, paragraphs, title, slug, excerpt.

Pure functions; commands and fillers are data in dictation/lang/<code>.toml (which
explain the per-phrase choices). Matching works on the model's words, so each paragraph
keeps the time range of the audio it came from (its kept words, commands excluded).
- No table for the language: the English one ("um" is universal, English commands
  rarely collide with other speech).
- Whole words only ("pointless" is not "point", "virgules" not "virgule"); a phrase never
  spans punctuation Whisper put inside it ("something new. Line two").
- A long pause starts a paragraph only after a sentence end; a paragraph never ends on a
  comma or nothing. When a command turns Whisper's "." into ",", the capital Whisper put
  on the next word is undone (a name there too: rare, and visible in the editor).
- Markdown: backslash line breaks (editors drop trailing spaces); what would change
  meaning is escaped, words are kept (`<script>` stays text: the renderer escapes HTML).
- A memo with no speech gives an empty title and slug: the caller names it.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from slugify import slugify as _python_slugify

from dictation.errors import InvalidInput, NotFound
from dictation.transcribe.result import Segment, Transcript, Word

LANG_DIR = Path(__file__).with_name("lang")
ACTIONS = ("paragraph", "line_break", "insert", "open_quote", "close_quote", "title", "scratch")
_OPENERS = "([{«“‘¿¡"
_CLOSERS = ")]}»”’\"'"
_CLOSING = ".,;:!?…%" + _CLOSERS
_HIGH = ";:!?"
_START, _MID, _KEEP = "start", "mid", "keep"  # how to case the next word
_BREAK = None  # a dictated line break inside a paragraph


@dataclass(frozen=True)
class ComposeOptions:
    # A silence this long after a sentence starts a paragraph; shorter ones are breaths.
    pause_for_paragraph: float = 2.0
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


@dataclass(frozen=True)
class Paragraph:
    text: str  # plain text; "\n" where a line break was dictated
    start: float  # seconds into the memo of its first word, so the editor can play it
    end: float


@dataclass(frozen=True)
class Draft:
    title: str
    slug: str
    excerpt: str
    body_markdown: str
    paragraphs: list[Paragraph]
    language: str


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


def _atoms(text: str) -> tuple[str, ...]:
    """Normalised words for matching; short words keep their accents ("à" is not "a")."""
    text = unicodedata.normalize("NFC", text).casefold()
    for quote in "’‘ʼ´`":
        text = text.replace(quote, "'")
    parts = (re.sub(r"^\W+|\W+$", "", p) for p in re.split(r"[\s'\-‐–—]+", text))
    fold = lambda p: "".join(c for c in unicodedata.normalize("NFKD", p) if not unicodedata.combining(c))  # noqa: E731
    return tuple(fold(p) if len(p) >= 4 else p for p in parts if p)


def _lang_code(lang: str) -> str:
    return re.split(r"[-_]", (lang or "").strip().lower())[0]


@functools.lru_cache(maxsize=None)
def load_language_table(lang: str) -> LanguageTable:
    code = _lang_code(lang)
    path = LANG_DIR / f"{code}.toml"
    if not code.isalpha() or not path.is_file():
        raise NotFound(f"There is no table of dictation commands for the language {lang!r}; "
                       f"add dictation/lang/{code or '<code>'}.toml to support it.", language=lang)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    guards = data.get("guards", {})
    words = lambda d, key: frozenset(a for w in d.get(key, []) for a in _atoms(w))  # noqa: E731
    after, before = words(guards, "not_after"), words(guards, "not_before")
    rules = []
    for block in data.get("commands", []):
        action, text, then = block.get("action"), block.get("text", ""), block.get("then", "")
        if action not in ACTIONS or (action == "insert") != bool(text) or then not in ("", "paragraph", "line_break"):
            raise InvalidInput(f"{path.name}: the command block {block!r} needs an action among {ACTIONS}, "
                               "a text exactly when it inserts one, and a then of paragraph or line_break.")
        for phrase in block.get("phrases", []):
            rules.append(Rule(phrase, _atoms(phrase), action, text, then, block.get("set_off", ""),
                              after | words(block, "not_after"), before | words(block, "not_before")))
    fillers = data.get("fillers", {})
    rules += [Rule(p, _atoms(p), "filler") for p in fillers.get("always", [])]
    rules += [Rule(p, _atoms(p), "filler", set_off="both") for p in fillers.get("set_off", [])]
    typography = data.get("typography", {})
    return LanguageTable(code, tuple(rules), typography.get("open_quote", "\""), typography.get("close_quote", "\""),
                         dict(typography.get("space_before", {})), dict(typography.get("space_after", {})))


@dataclass
class _Token:
    """One word of the model, split into punctuation before, the word, punctuation after."""
    lead: str
    core: str
    trail: str
    start: float
    end: float
    glued: bool = False  # the model wrote it without a space before
    after_terminal: bool = True  # the model's previous word ended a sentence: its capital is positional
    atoms: tuple[str, ...] = ()


def _ends_sentence(item) -> bool:
    bare = item.trail.rstrip(_CLOSERS) if item is not _BREAK else ""
    return bool(bare) and bare[-1] in ".?!" and not bare.endswith("..")


def _segment_words(segment: Segment) -> list[Word]:
    """A segment without word timings: spread its words over its time by length."""
    parts, total, pos, words = segment.text.split(), max(len(segment.text.strip()), 1), 0, []
    span = segment.end - segment.start
    for part in parts:
        start = segment.start + span * pos / total
        pos += len(part) + 1
        words.append(Word(start, min(segment.start + span * (pos - 1) / total, segment.end), " " + part, 0.0))
    return words


def _tokens(transcript: Transcript) -> list[_Token]:
    tokens: list[_Token] = []
    pending = ""  # an opening mark the model wrote as its own word, for the next word
    for segment in transcript.segments:
        for k, word in enumerate(segment.words or _segment_words(segment)):
            lead, core, trail = re.match(r"^(\W*?)(\w.*?\w|\w?)(\W*)$", word.word.strip(), re.S).groups()
            lead, trail = "".join(lead.split()), "".join(trail.split())
            if not core:
                marks = lead + trail
                if marks and (marks[0] in _OPENERS or (marks[0] in "\"'" and word.word[:1].isspace())):
                    pending += marks
                    continue
                if not marks or all(c in _CLOSING for c in marks):
                    if tokens:
                        tokens[-1].trail += marks  # Whisper's " ?" or " »" belongs to the word before
                    continue
                core, lead, trail = marks, "", ""  # a dash or a symbol said on its own: a word
            tokens.append(_Token(
                pending + lead, core, trail, word.start, word.end,
                glued=bool(tokens) and k > 0 and not word.word[:1].isspace(),
                after_terminal=not tokens or _ends_sentence(tokens[-1]),
                atoms=_atoms(core) if re.match(r"\w", core) else (),
            ))
            pending = ""
    return tokens


def _is_break(tokens: list[_Token], a: int, b: int, opts: ComposeOptions) -> bool:
    if a < 0 or b >= len(tokens):
        return True
    x, y = tokens[a], tokens[b]
    return bool(x.trail or y.lead) or not x.atoms or not y.atoms or y.start - x.end >= opts.pause_sets_off


def _allowed(tokens: list[_Token], i: int, j: int, rule: Rule, opts: ComposeOptions) -> bool:
    before, after = _is_break(tokens, i - 1, i, opts), _is_break(tokens, j - 1, j, opts)
    if rule.set_off in ("before", "both") and not before or rule.set_off in ("after", "both") and not after:
        return False
    if not before and tokens[i - 1].atoms[-1] in rule.not_after:
        return False
    if not after and tokens[j].atoms[0] in rule.not_before:
        return False
    first = tokens[i].core
    is_name = first[:1].isupper() and not tokens[i].after_terminal and not re.match(r"I(\W|$)", first)
    return not (rule.action == "filler" and rule.set_off and is_name)  # "Merci, Ben."


def _events(tokens: list[_Token], table: LanguageTable, opts: ComposeOptions):
    """(i, j, rule) spans over the tokens, left to right, longest phrase first; rule None = a word."""
    index: dict[str, list[Rule]] = {}
    for rule in sorted(table.rules, key=lambda r: -len(r.phrase)):
        if rule.phrase:
            index.setdefault(rule.phrase[0], []).append(rule)
    i = 0
    while i < len(tokens):
        hit = None
        for rule in index.get(tokens[i].atoms[0], ()) if tokens[i].atoms else ():
            j, atoms = i, []
            while len(atoms) < len(rule.phrase) and j < len(tokens):
                if j > i and (tokens[j - 1].trail or tokens[j].lead or not tokens[j].atoms):
                    break
                atoms.extend(tokens[j].atoms)
                j += 1
            if tuple(atoms) == rule.phrase and _allowed(tokens, i, j, rule, opts):
                hit = (i, j, rule)
                break
        yield hit or (i, i + 1, None)
        i = hit[1] if hit else i + 1


class _Composer:
    """Builds paragraphs (lists of tokens and line breaks) and the spoken title."""

    def __init__(self, table: LanguageTable, opts: ComposeOptions) -> None:
        self.table, self.opts = table, opts
        self.paragraphs: list[list] = [[]]
        self.title: list[_Token] | None = None
        self.in_title = self.title_just_ended = False
        self.pending = ""  # opening marks waiting for the next word

    def feed(self, tokens: list[_Token]) -> None:
        previous_end = None
        for i, j, rule in list(_events(tokens, self.table, self.opts)):  # before trails change
            gap = 0.0 if previous_end is None else tokens[i].start - previous_end
            previous_end = tokens[j - 1].end
            if self.in_title and gap >= self.opts.pause_ends_title:
                self.end_title()
            if not self.in_title and gap >= self.opts.pause_for_paragraph and self.paragraphs[-1] \
                    and _ends_sentence(self.paragraphs[-1][-1]):
                self.act("paragraph")
            if rule is None:
                self.word(tokens[i])
            else:
                self.command(rule, tokens[i:j])
        self.end_title()

    target = property(lambda self: self.title if self.in_title else self.paragraphs[-1])

    def last_word(self) -> _Token | None:
        return self.target[-1] if self.target and self.target[-1] is not _BREAK else None

    def word(self, token: _Token) -> None:
        token.lead, self.pending = self.pending + token.lead, ""
        self.target.append(token)
        if self.in_title and _ends_sentence(token):
            self.end_title()
        elif not self.in_title:
            self.title_just_ended = False

    def end_title(self) -> None:
        if self.in_title:
            self.in_title = False
            self.title = self.title or None
            self.title_just_ended = self.title is not None

    def act(self, action: str) -> None:
        self.end_title()
        para = self.paragraphs[-1]
        if action == "paragraph" and para:
            self.paragraphs.append([])
        elif action == "line_break" and para and para[-1] is not _BREAK:
            para.append(_BREAK)

    def command(self, rule: Rule, words: list[_Token]) -> None:
        last, said_after = self.last_word(), words[-1].trail.rstrip(_CLOSERS)
        if rule.action == "filler":
            self.pending += words[0].lead
            if last and said_after and said_after[-1] in ".?!" and not _ends_sentence(last):
                last.trail = last.trail.rstrip(",;:") + said_after[-1]  # "We did it, um." -> "We did it."
            elif last and said_after.startswith(",") and last.trail.endswith(","):
                last.trail = last.trail[:-1]  # "It was, you know, huge" -> "It was huge"
        elif rule.action == "insert" and rule.text[0] in _OPENERS or rule.action == "open_quote":
            self.pending += rule.text or self.table.open_quote
        elif rule.action == "insert" and last:
            last.trail = last.trail.rstrip(".,;:!?…") + rule.text  # "hello. comma" -> "hello,"
            if self.in_title and _ends_sentence(last):
                self.end_title()
        elif rule.action == "close_quote" and last:
            bare = not last.trail.rstrip(_CLOSERS)
            last.trail += self.table.close_quote + (said_after[-1] if bare and said_after else "")
        elif rule.action == "title":
            self.end_title()
            self.title, self.in_title = [], True
        elif rule.action == "scratch":
            self.scratch()
        elif rule.action in ("paragraph", "line_break"):
            self.act(rule.action)
        if rule.then:
            self.act(rule.then)

    def scratch(self) -> None:
        """Delete the sentence just said; at a paragraph's start, the previous paragraph's last."""
        if self.in_title or self.title_just_ended:
            self.title, self.in_title, self.title_just_ended = None, False, False
            return
        para = self.paragraphs[-1] if self.paragraphs[-1] or len(self.paragraphs) == 1 else self.paragraphs[-2]
        while para and para[-1] is _BREAK:
            para.pop()
        if para and _ends_sentence(para[-1]):
            para.pop()
        while para and para[-1] is not _BREAK and not _ends_sentence(para[-1]):
            para.pop()


def _spaced(marks: str, spaces: dict[str, str], before: bool) -> str:
    out = ""
    for c in marks:
        space = spaces.get(c, "")
        if before and space and not (c in _HIGH and out and out[-1] in _HIGH):
            out += space
        out += c + ("" if before else space)
    return out


def _cased(token: _Token, state: str) -> str:
    core = token.core
    if state == _START:
        return core[:1].upper() + core[1:]
    positional = token.after_terminal and len(core) > 1 and core[0].isupper() and core[1:].islower()
    if state == _MID and positional and not re.match(r"I\W", core):
        return core[0].lower() + core[1:]
    return core


def _lines(items: list, table: LanguageTable) -> list[str]:
    lines, line, state = [], "", _START
    for item in items:
        if item is _BREAK:
            lines.append(line)
            line, state = "", _START
            continue
        text = (_spaced(item.lead, table.space_after, False) + _cased(item, state)
                + _spaced(item.trail, table.space_before, True))
        line += text if not line or item.glued else " " + text
        bare = item.trail.rstrip(_CLOSERS)
        state = _START if _ends_sentence(item) else _KEEP if bare.endswith(("…", "..")) else _MID
    lines.append(line)
    return [text for text in lines if text]


def _escape_markdown(line: str) -> str:
    line = re.sub(r"[\\`*_\[\]]|<(?=[A-Za-z/!?])|&(?=#?\w+;)", lambda m: "\\" + m.group(0), line)
    if line[:1] in ("#", ">", "+", "-", "=", "~", "|"):
        return "\\" + line
    return re.sub(r"^(\d{1,9})([.)])(?=\s|$)", r"\1\\\2", line)  # "1. " would start a list


def _shorten(text: str, limit: int, ellipsis: str = "") -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis) + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > 0 else cut[: limit - len(ellipsis)]
    return cut.rstrip(" ,;:.-–—\u00a0\u202f«“(") + ellipsis


def _title_text(words: list[_Token], table: LanguageTable, limit: int) -> str:
    text = " ".join(_lines(words, table)).strip()
    text = _shorten(text, limit).rstrip(" .,;:!?…-–—\u00a0\u202f«“(")
    return text[:1].upper() + text[1:]


def slugify(title: str, max_chars: int = 60) -> str:
    """ASCII, lower case, accents folded: "Stratégie d'été" -> "strategie-d-ete"."""
    title = re.sub(r"[’‘ʼ]", "'", title)
    return _python_slugify(title, max_length=max_chars, word_boundary=True)


def compose(transcript: Transcript, options: ComposeOptions | None = None) -> Draft:
    opts = options or ComposeOptions()
    language = _lang_code(opts.language or transcript.language or "en")
    try:
        table = load_language_table(language)
    except NotFound:
        table = load_language_table("en")
    composer = _Composer(table, opts)
    composer.feed([] if transcript.no_speech else _tokens(transcript))

    paragraphs, blocks, first_sentence = [], [], []
    for items in composer.paragraphs:
        while items and items[-1] is _BREAK:
            items.pop()
        words = [item for item in items if item is not _BREAK]
        if not words:
            continue
        last = words[-1]
        if not _ends_sentence(last) and not last.trail.rstrip(_CLOSERS).endswith((":", "…", "..")) \
                and re.match(r"\w", last.core):
            bare = last.trail.rstrip(_CLOSERS)
            last.trail = bare.rstrip(",;") + last.trail[len(bare):] + "."
        lines = _lines(items, table)
        paragraphs.append(Paragraph("\n".join(lines), words[0].start, max(w.end for w in words)))
        blocks.append("\\\n".join(_escape_markdown(line) for line in lines))
        if not first_sentence:  # up to its first sentence end or line break
            ends = [k for k, x in enumerate(items) if x is _BREAK or _ends_sentence(x)] + [len(items)]
            first_sentence = [x for x in items[: ends[0] + 1] if x is not _BREAK]

    title = _title_text(composer.title or first_sentence, table, opts.title_max_chars)
    plain = " ".join(p.text.replace("\n", " ") for p in paragraphs)
    excerpt = _shorten(plain, opts.excerpt_max_chars, "…")
    return Draft(title, slugify(title), excerpt, "\n\n".join(blocks), paragraphs, language or table.code)
