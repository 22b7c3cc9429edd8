"""Markdown from the editor -> HTML a CMS may show to the public.

A memo is dictated prose: raw HTML typed into it is shown as text (markdown-it with
`html` off escapes it), and nh3 then sanitises the result again as a second fence, so a
bug in one layer does not open the blog to script injection.
"""

from __future__ import annotations

import functools
from html import escape

import nh3
from markdown_it import MarkdownIt

from dictation.publish.cms.base import Post, marker_comment

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


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


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
    """Sanitised HTML of a memo's Markdown; any HTML in the text comes out as visible text."""
    return sanitize(_markdown().render(markdown or "")).strip()


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
