"""Markdown from the editor -> HTML a CMS may show to the public.

A memo is dictated prose: raw HTML typed into it is shown as text (markdown-it with
`html` off escapes it), and nh3 then sanitises the result again as a second fence, so a
bug in one layer does not open the blog to script injection.

The work is bounded, for the preview and for publishing alike. markdown-it-py is pure
Python and its cost follows the Markdown constructs in a text, not its length: each list
item, heading, paragraph, emphasis mark or bracket is a few parser rule attempts of 1-6 µs
each (the rest, nh3 included, is a small share). Nothing is quadratic in the length but a
table's cells: a header of 1,000 columns makes each row below it 1,000 cells, even a row of
one character. A draft may hold 300,000 characters, so one made of list items or of `*_[`
took 5-10 s of CPU where the same length of prose takes 0.5 s, and one of such tables
minutes. Every rule attempt therefore counts as a step (a table's cells are counted before
its rows are made), and a text that needs more than MAX_STEPS is refused with a sentence
(`MarkdownTooComplex`), as is one nested deeper than MAX_LEVEL, which markdown-it would
otherwise cut silently (from 20 levels down it drops the rest of the text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from html import escape
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.ruler import Ruler

from dictation.errors import InvalidInput
from dictation.publish.cms.base import Post, marker_comment
from dictation.workflow import messages

# Schemes a reader's browser may follow from a post; javascript:, data: and vbscript: stay out.
SAFE_SCHEMES = {"http", "https", "mailto"}
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align", "style"},
    "td": {"align", "style"},
    "ol": {"start"},
}


# Parser steps one text may take: a step is one attempt of one parser rule; ten more for each
# link, image, autolink, link reference or fenced code block made (100-200 µs each: an address
# is parsed and normalised, a block rendered), four more per table cell and one per emphasis
# mark, which a single rule call makes by the hundred (a cell costs about 15 µs).
# A step costs 1-6 µs, so no text takes much more than half a second of CPU (0.7 s at most
# measured, for the 40 kinds of pathological text tried). Measured: ordinary prose takes about
# 0.2 steps a character (a 150,000-character transcript, three hours of speech, 28,000 steps),
# this project's README, 50,000 characters of headings, lists, tables, links and code, 0.4
# (21,000: a text as dense fits up to about 280,000 characters). 300,000 characters of prose
# with a bold phrase in every sentence take 174,000 and are refused, as are the reviewer's
# 300,000 characters of nested list (1.5 million) and of emphasis marks (970,000).
MAX_STEPS = 120_000
# Block nesting at which a rule may still run: a quote is one level, a list two (the list and
# its item), so up to 7 lists or 15 quotes inside one another. Below markdown-it's own limit
# (maxNesting 20) with room for a list's two levels: nothing is ever dropped silently.
MAX_LEVEL = 16
_STEPS = "dictation_steps"  # the count, kept in the render's env (one per call: thread-safe)
_MADE_WEIGHT = {"link": 10, "image": 10, "autolink": 10, "reference": 10, "fence": 10}
_MARKS = re.compile(r"\*+|_+|~+")
_BLANK_LINE = re.compile(r"\n[ \t]*(?:\n|$)")


class MarkdownTooComplex(InvalidInput):
    """A text whose Markdown takes more work to render than a blog post needs."""

    code = "markdown_too_complex"


def _charge(state: Any, steps: int) -> None:
    env = state.env
    env[_STEPS] = total = env.get(_STEPS, 0) + steps
    if total > MAX_STEPS:
        raise messages.refused(MarkdownTooComplex, "markdown_too_complex")


def _table_cells(state: Any, start: int, end: int) -> int:
    """At least the cells a table starting at `start` makes: its rows (up to the first blank
    line) times its columns (up to the pipes of its delimiter row, plus one)."""
    src, first = state.src, state.bMarks[start]
    blank = _BLANK_LINE.search(src, first)
    rows = min(src.count("\n", first, blank.start() if blank else len(src)) + 1, end - start)
    delimiter = src[state.bMarks[start + 1]:state.eMarks[start + 1]]
    return rows * (delimiter.count("|") + 1)


def _counted(name: str, rule: Callable[..., Any], phase: str) -> Callable[..., Any]:
    """`rule` (of the "block", "inline" or "post" chains) charging its steps before it runs."""
    made_weight = _MADE_WEIGHT.get(name, 0)

    def counted(state: Any, *args: Any) -> Any:
        _charge(state, 1)
        if phase == "block" and state.level >= MAX_LEVEL:
            raise messages.refused(MarkdownTooComplex, "markdown_too_deep")
        if phase == "post" or args[-1]:  # a post-processing pass, or a look ahead (silent)
            return rule(state, *args)
        if phase == "block" and name == "table" and rule(state, *args[:-1], True):
            _charge(state, 4 * _table_cells(state, args[0], args[1]))  # before its rows are made
        elif phase == "inline" and name in ("emphasis", "strikethrough") and (
                marks := _MARKS.match(state.src, state.pos)):
            _charge(state, len(marks.group()))
        made = rule(state, *args)
        if made and made_weight:
            _charge(state, made_weight)
        return made

    return counted


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )
    # Every rule, in every chain (a paragraph's look for what ends it included), counts.
    _count_steps(md.block.ruler, "block")
    _count_steps(md.inline.ruler, "inline")
    _count_steps(md.inline.ruler2, "post")
    return md


def _count_steps(ruler: Ruler[Any], phase: str) -> None:
    for rule in list(ruler.__rules__):
        ruler.at(rule.name, _counted(rule.name, rule.fn, phase), {"alt": rule.alt})


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=SAFE_SCHEMES,
        link_rel="noopener noreferrer",
        filter_style_properties={"text-align"},
    )


def markdown_to_html(markdown: str) -> str:
    """Sanitised HTML of a memo's Markdown; any HTML in the text comes out as visible text.
    Raises MarkdownTooComplex (422, a sentence) for a text past MAX_STEPS or MAX_LEVEL."""
    return sanitize(_markdown().render(markdown or "", {_STEPS: 0})).strip()


def check_markdown(markdown: str) -> int:
    """The steps `markdown_to_html` takes for this text (the same parse, no HTML made);
    raises MarkdownTooComplex where it would."""
    env: dict[str, Any] = {_STEPS: 0}
    _markdown().parse(markdown or "", env)
    return int(env[_STEPS])


def audio_figure(url: str, mime: str, caption: str = "Hear it in the author's voice") -> str:
    """The player that carries the memo's audio; built after sanitising, from escaped parts."""
    return (
        f'<figure class="dictation-audio"><audio controls preload="none" src="{escape(url)}">'
        f'<source src="{escape(url)}" type="{escape(mime)}"></audio>'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def post_html(post: Post, *, audio_url: str | None = None, with_marker: bool = True) -> str:
    """The body as sent to a CMS: the marker comment, the audio player, then the text."""
    parts = []
    if with_marker:
        parts.append(marker_comment(post.draft_id))
    if audio_url:
        parts.append(audio_figure(audio_url, post.audio_mime))
    parts.append(markdown_to_html(post.body_markdown))
    return "\n".join(parts)
