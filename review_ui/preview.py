"""The draft as the blog will show it: the blog's own post template around the sanitised
Markdown (dictation.publish.cms.render: markdown-it with HTML off, then nh3, its work
bounded), and the turn each person waits for: one preview at a time."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape

from api.schemas import API as API_PREFIX
from dictation.compose import slugify
from dictation.compose.derive import with_derived
from dictation.models import Draft
from dictation.publish.cms.blog import Blog, BlogEntry
from dictation.publish.cms.render import markdown_to_html
from dictation.settings import Settings
from review_ui.i18n import translator

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


@dataclass(frozen=True)
class PostMeta:
    """What readers see around the text: the address, the excerpt (lists, feeds), tags, image."""

    slug: str
    excerpt: str
    tags: list[str]
    image: str = ""  # where the desk fetches the featured image; "" for none


def post_meta(settings: Settings, draft: Draft | None, title: str, markdown: str, typed: dict[str, object],
              manual: Sequence[str]) -> PostMeta:
    """The post fields for this text as a save would make them: those set by hand as typed,
    the others from the title and body (the same rule as the save, compose.derive)."""
    published = draft is not None and any(p.published_version is not None for p in draft.publications)
    fields = with_derived(typed, manual, title, markdown, published)
    if published and "slug" not in manual and draft is not None:
        fields["slug"] = draft.slug  # a live post's address stays until someone types another
    image = f"{API_PREFIX}/drafts/{draft.id}/featured-image?v={draft.featured_image_sha256[:12]}" \
        if draft is not None and draft.featured_image_sha256 else ""
    tags = fields["tags"] if isinstance(fields["tags"], list) else []
    return PostMeta(slugify(str(fields["slug"]) or title) or "untitled", str(fields["excerpt"]),
                    [str(t) for t in tags], image)


def preview_html(settings: Settings, title: str, markdown: str, author: str = "", language: str = "en",
                 tags: list[str] | None = None, meta: PostMeta | None = None, ui_language: str = "en") -> str:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    entry = BlogEntry(
        draft_id="preview", slug=meta.slug if meta else "preview", title=title or "",
        html=without_remote_images(markdown_to_html(markdown)), excerpt=meta.excerpt if meta else "",
        tags=list(meta.tags if meta else tags or []), status="draft", published=now, updated=now,
        author=author, language=language if language in ("en", "fr") else "en", image=meta.image if meta else "",
    )
    blog = Blog(settings)
    page = blog.env.get_template("post.html").render(
        root="/blog/", base_url=blog.base_url, blog_title=settings.blog_title, entry=entry
    )
    if meta is not None:
        # How the post is listed: its address and excerpt, above the post as the blog shows it.
        t = translator(ui_language)
        head = (f'<aside class="preview-meta"><div><b>{escape(t("post.preview_address"))}</b> '
                f'<span class="preview-address">{escape(blog.base_url + meta.slug)}/</span></div>'
                f'<div><b>{escape(t("post.preview_excerpt"))}</b> <span class="preview-excerpt">'
                f'{escape(meta.excerpt or t("post.preview_no_excerpt"))}</span></div></aside>')
        page = page.replace('<article class="post">', head + '<article class="post">', 1)
    return page.replace("</head>", _PREVIEW_STYLE + "</head>", 1)


class OnePerCaller:
    """At most one computation at a time for each caller (in this process): a second one asked
    while the first runs is refused at once, so one person never holds more than one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[int] = set()

    @contextlib.contextmanager
    def turn(self, caller: int) -> Iterator[bool]:
        """True, and the turn held until the block ends; False where the caller has it already."""
        with self._lock:
            mine = caller not in self._busy
            if mine:
                self._busy.add(caller)
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    self._busy.discard(caller)


PREVIEWS = OnePerCaller()  # the editor's previews, by user id
