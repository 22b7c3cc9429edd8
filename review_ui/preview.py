"""The draft as the blog will show it: the blog's own post template around the sanitised
Markdown (dictation.publish.render: markdown-it with HTML off, then nh3)."""

from __future__ import annotations

import datetime as dt

from dictation.publish.cms.blog import Blog, BlogEntry
from dictation.publish.cms.render import markdown_to_html
from dictation.settings import Settings

# The preview sits in a sandboxed frame; clicks on its paragraphs are read by the editor.
_PREVIEW_STYLE = "<style>.content > * { cursor: pointer; } .content > .now { background: #fff4c2; }</style>"


def preview_html(settings: Settings, title: str, markdown: str, author: str = "", language: str = "en",
                 tags: list[str] | None = None) -> str:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    entry = BlogEntry(
        draft_id="preview", slug="preview", title=title or "", html=markdown_to_html(markdown),
        excerpt="", tags=list(tags or []), status="draft", published=now, updated=now,
        author=author, language=language if language in ("en", "fr") else "en",
    )
    blog = Blog(settings)
    page = blog.env.get_template("post.html").render(
        root="/blog/", base_url=blog.base_url, blog_title=settings.blog_title, entry=entry
    )
    return page.replace("</head>", _PREVIEW_STYLE + "</head>", 1)
