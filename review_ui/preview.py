"""The draft as the blog will show it: the blog's own post template around the sanitised
Markdown (dictation.publish.render: markdown-it with HTML off, then nh3)."""

from __future__ import annotations

import datetime as dt
import re

from dictation.publish.cms.blog import Blog, BlogEntry
from dictation.publish.cms.render import markdown_to_html
from dictation.settings import Settings

# The preview sits in a sandboxed frame; clicks on its paragraphs are read by the editor. A
# stylesheet, not a <style>: the frame lives under the desk's policy, which has no inline styles.
_PREVIEW_STYLE = '<link rel="stylesheet" href="/static/css/preview.css">'


# Sanitised HTML (nh3) writes every <img> this way; a remote one would be fetched by the
# reviewer's browser, telling its owner who reads the draft and when.
_REMOTE_IMAGE = re.compile(r'<img src="((?:https?:)?//[^"]*)"(?: alt="([^"]*)")?[^>]*>')


def without_remote_images(html: str) -> str:
    """Each remote image becomes a link to it, opened only if the reviewer chooses to."""
    return _REMOTE_IMAGE.sub(
        lambda m: f'<a class="remote-image" href="{m.group(1)}" rel="noreferrer">[{m.group(2) or "image"}]</a>', html
    )


def preview_html(settings: Settings, title: str, markdown: str, author: str = "", language: str = "en",
                 tags: list[str] | None = None) -> str:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    entry = BlogEntry(
        draft_id="preview", slug="preview", title=title or "", html=without_remote_images(markdown_to_html(markdown)),
        excerpt="", tags=list(tags or []), status="draft", published=now, updated=now,
        author=author, language=language if language in ("en", "fr") else "en",
    )
    blog = Blog(settings)
    page = blog.env.get_template("post.html").render(
        root="/blog/", base_url=blog.base_url, blog_title=settings.blog_title, entry=entry
    )
    return page.replace("</head>", _PREVIEW_STYLE + "</head>", 1)
