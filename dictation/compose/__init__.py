"""Transcript → draft: spoken commands, filler words, paragraphs, title, slug, excerpt.

Pure functions; commands and fillers are data in dictation/compose/lang/<code>.toml (which
explain the per-phrase choices), loaded by dictation.compose.tables. Matching works on the
model's words, so each paragraph keeps the time range of the audio it came from (its kept
words, commands excluded).
- No table for the language: the English one ("um" is universal, English commands
  rarely collide with other speech).
- Whole words only ("pointless" is not "point", "virgules" not "virgule"); a phrase never
  spans punctuation Whisper put inside it ("something new. Line two").
- Paragraphs start where the author says so, after a pause that is long for this speaker
  (people pause 0.6-1 s between paragraphs, 0.3-0.6 s between sentences: see
  ComposeOptions), and where one grows too long; always at a sentence end. A paragraph
  never ends on a comma or nothing. When a command turns Whisper's "." into ",", the
  capital Whisper put on the next word is undone (a name there too: rare, and visible).
- Markdown: backslash line breaks (editors drop trailing spaces); escaping in compose_text.
- A memo with no speech gives an empty title and slug: the caller names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dictation.compose.learned import Learned, substitute
from dictation.compose.options import ComposeOptions
from dictation.compose.paragraphs import paced

# Re-exported: callers and tests import the language tables from here.
from dictation.compose.tables import (
    LanguageTable,
    Rule,
    atoms,
    lang_code,
    load_language_table,
)
from dictation.compose.text import (
    CLOSERS,
    LINE_BREAK,
    ends_sentence,
    escape_markdown,
    render_lines,
    shorten,
    slugify,
    title_from_text,
)
from dictation.errors import NotFound
from dictation.transcribe.result import Segment, Transcript, Word

_OPENERS = "([{«“‘¿¡"
_CLOSING = ".,;:!?…%" + CLOSERS


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
    learned: tuple[Learned, ...] = ()  # words written from the vocabulary, for the editor to mark


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
    pause_after: float | None = None  # silence before what came next, when it ended the paragraph so far


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
            parts = re.match(r"^(\W*?)(\w.*?\w|\w?)(\W*)$", word.word.strip(), re.S)
            assert parts is not None  # every group may be empty: the pattern matches any text
            lead, core, trail = parts.groups()
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
                after_terminal=not tokens or ends_sentence(tokens[-1]),
                atoms=atoms(core) if re.match(r"\w", core) else (),
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
            j, atoms = i, list[str]()
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
        self.dictated_paragraphs = False

    def feed(self, tokens: list[_Token]) -> None:
        previous_end = None
        for i, j, rule in list(_events(tokens, self.table, self.opts)):  # before trails change
            gap = 0.0 if previous_end is None else tokens[i].start - previous_end
            previous_end = tokens[j - 1].end
            last = self.last_word()
            if last is not None and not self.in_title:  # a filler between: the longest silence counts
                last.pause_after = max(last.pause_after or 0.0, gap)
            if self.in_title and gap >= self.opts.pause_ends_title:
                self.end_title()
            if not self.in_title and gap >= self.opts.pause_for_paragraph and self.paragraphs[-1] \
                    and ends_sentence(self.paragraphs[-1][-1]):
                self.act("paragraph")
            if rule is None:
                self.word(tokens[i])
            else:
                self.command(rule, tokens[i:j])
        self.end_title()

    target = property(lambda self: self.title if self.in_title else self.paragraphs[-1])

    def last_word(self) -> _Token | None:
        return self.target[-1] if self.target and self.target[-1] is not LINE_BREAK else None

    def word(self, token: _Token) -> None:
        token.lead, self.pending = self.pending + token.lead, ""
        self.target.append(token)
        if self.in_title and ends_sentence(token):
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
        elif action == "line_break" and para and para[-1] is not LINE_BREAK:
            para.append(LINE_BREAK)

    def command(self, rule: Rule, words: list[_Token]) -> None:
        last, said_after = self.last_word(), words[-1].trail.rstrip(CLOSERS)
        if rule.action == "filler":
            self.pending += words[0].lead
            if last and said_after and said_after[-1] in ".?!" and not ends_sentence(last):
                last.trail = last.trail.rstrip(",;:") + said_after[-1]  # "We did it, um." -> "We did it."
            elif last and said_after.startswith(",") and last.trail.endswith(","):
                last.trail = last.trail[:-1]  # "It was, you know, huge" -> "It was huge"
        elif rule.action == "insert" and rule.text[0] in _OPENERS or rule.action == "open_quote":
            self.pending += rule.text or self.table.open_quote
        elif rule.action == "insert" and last:
            last.trail = last.trail.rstrip(".,;:!?…") + rule.text  # "hello. comma" -> "hello,"
            if self.in_title and ends_sentence(last):
                self.end_title()
        elif rule.action == "close_quote" and last:
            bare = not last.trail.rstrip(CLOSERS)
            last.trail += self.table.close_quote + (said_after[-1] if bare and said_after else "")
        elif rule.action == "title":
            self.end_title()
            self.title, self.in_title = [], True
        elif rule.action == "scratch":
            self.scratch()
        elif rule.action in ("paragraph", "line_break"):
            self.act(rule.action)
        self.dictated_paragraphs |= "paragraph" in (rule.action, rule.then)
        if rule.then:
            self.act(rule.then)

    def scratch(self) -> None:
        """Delete the sentence just said; at a paragraph's start, the previous paragraph's last."""
        if self.in_title or self.title_just_ended:
            self.title, self.in_title, self.title_just_ended = None, False, False
            return
        para = self.paragraphs[-1] if self.paragraphs[-1] or len(self.paragraphs) == 1 else self.paragraphs[-2]
        while para and para[-1] is LINE_BREAK:
            para.pop()
        if para and ends_sentence(para[-1]):
            para.pop()
        while para and para[-1] is not LINE_BREAK and not ends_sentence(para[-1]):
            para.pop()


def _table(language: str) -> LanguageTable:
    try:
        return load_language_table(language)
    except NotFound:
        return load_language_table("en")


def spoken_words(transcript: Transcript, options: ComposeOptions | None = None) -> list[tuple[str, float, float]]:
    """The model's words compose keeps as text, with their times: spoken commands and fillers
    left out. Learning compares these with the published text."""
    opts = options or ComposeOptions()
    table = _table(lang_code(opts.language or transcript.language or "en"))
    tokens = [] if transcript.no_speech else _tokens(transcript)
    return [(tokens[i].core, tokens[i].start, tokens[i].end)
            for i, _, rule in _events(tokens, table, opts) if rule is None]


def compose(transcript: Transcript, options: ComposeOptions | None = None) -> Draft:
    opts = options or ComposeOptions()
    language = lang_code(opts.language or transcript.language or "en")
    table = _table(language)
    transcript, learned = substitute(transcript, opts.substitutions)
    composer = _Composer(table, opts)
    composer.feed([] if transcript.no_speech else _tokens(transcript))

    paragraphs: list[Paragraph] = []
    blocks: list[str] = []
    first_sentence: list[_Token] = []
    for items in paced(composer.paragraphs, opts, composer.dictated_paragraphs):
        while items and items[-1] is LINE_BREAK:
            items.pop()
        words = [item for item in items if item is not LINE_BREAK]
        if not words:
            continue
        last = words[-1]
        if not ends_sentence(last) and not last.trail.rstrip(CLOSERS).endswith((":", "…", "..")) \
                and re.match(r"\w", last.core):
            bare = last.trail.rstrip(CLOSERS)
            last.trail = bare.rstrip(",;") + last.trail[len(bare):] + "."
        lines = render_lines(items, table)
        paragraphs.append(Paragraph("\n".join(lines), words[0].start, max(w.end for w in words)))
        blocks.append("\\\n".join(escape_markdown(line) for line in lines))
        if not first_sentence:  # up to its first sentence end or line break
            ends = [k for k, x in enumerate(items) if x is LINE_BREAK or ends_sentence(x)] + [len(items)]
            first_sentence = [x for x in items[: ends[0] + 1] if x is not LINE_BREAK]

    title = title_from_text(" ".join(render_lines(composer.title or first_sentence, table)), opts.title_max_chars)
    plain = " ".join(p.text.replace("\n", " ") for p in paragraphs)
    excerpt = shorten(plain, opts.excerpt_max_chars, "…")
    return Draft(title, slugify(title), excerpt, "\n\n".join(blocks), paragraphs, language or table.code,
                 tuple(learned))
