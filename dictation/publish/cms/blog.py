"""The built-in blog: the default destination, so a fresh install publishes with no CMS.

Posts are JSON files in `<data_dir>/blog/posts/<slug>.json` (written atomically), the
memo audio is copied beside them, and pages are rendered on request by Jinja2 (the web
app mounts `render_blog_path` at /blog/) or written once as a static folder (`export`).
A post is public when published, or when scheduled and its time has come.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cached_property
from pathlib import Path, PurePosixPath

import jinja2
from slugify import slugify

from dictation.errors import PublishError
from dictation.publish.cms.base import Destination, Post, RemotePost, image_name
from dictation.publish.cms.render import markdown_to_html
from dictation.settings import Settings
from dictation.text import printable

TEMPLATES = Path(__file__).with_name("templates")
HTML = "text/html; charset=utf-8"


@dataclass
class BlogEntry:
    draft_id: str
    slug: str
    title: str
    html: str  # sanitised when stored; templates insert it as is
    excerpt: str
    tags: list[str]
    status: str
    published: str  # ISO 8601 UTC: the post date shown and put in the feed
    updated: str
    author: str = ""
    language: str = "en"
    audio: str = ""  # file name under blog/media/, "" when no audio was attached
    audio_mime: str = ""
    image: str = ""  # the featured image's file name under blog/media/ ("" = none), or an address

    @property
    def published_at(self) -> datetime:
        return datetime.fromisoformat(self.published)

    def is_public(self, now: datetime) -> bool:
        return self.status == "publish" or (self.status == "future" and self.published_at <= now)

    def tag_slugs(self) -> list[tuple[str, str]]:
        return [(t, slugify(t) or "tag") for t in self.tags]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Blog:
    """Storage and rendering of the built-in blog."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = self.settings.data_dir / "blog"
        self.posts_dir = self.root / "posts"
        self.media_dir = self.root / "media"

    @property
    def base_url(self) -> str:
        return self.settings.public_url.rstrip("/") + "/blog/"

    @cached_property
    def env(self) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,  # every template, .xml included: titles are escaped in the feed too
            finalize=printable,  # a control character in one title must not break the whole feed
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["rfc3339"] = lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z")
        env.filters["rfc2822"] = format_datetime
        env.filters["day"] = lambda d: d.strftime("%-d %B %Y")
        return env

    # --- storage ----------------------------------------------------------------------
    def _path(self, slug: str) -> Path:
        # The rule slugs are made by (base.Post): anything else, a NUL or a name longer than
        # the file system takes included, names no post and never reaches the disk.
        if len(slug) > 200 or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
            raise PublishError(f"{slug[:80]!r} is not a valid post address on the blog.")
        return self.posts_dir / f"{slug}.json"

    def load(self, slug: str) -> BlogEntry | None:
        try:
            return BlogEntry(**json.loads(self._path(slug).read_text("utf-8")))
        except (FileNotFoundError, PublishError):
            return None

    def save(self, entry: BlogEntry) -> None:
        data = json.dumps(entry.__dict__, ensure_ascii=False, indent=1).encode("utf-8")
        _atomic_write(self._path(entry.slug), data)

    def delete(self, slug: str) -> None:
        self._path(slug).unlink(missing_ok=True)

    # --- addresses that moved ---------------------------------------------------------
    # A post's address changes only when someone types a new slug after publication; the
    # old one then answers 301 to the new one, so links and search results keep working.
    @property
    def _redirects_file(self) -> Path:
        return self.root / "redirects.json"

    def redirects(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._redirects_file.read_text("utf-8")))
        except FileNotFoundError:
            return {}

    def add_redirect(self, old: str, new: str) -> None:
        moved = {k: (new if v == old else v) for k, v in self.redirects().items() if k != new}
        moved[old] = new  # and every older address of the post follows it too, in one hop
        _atomic_write(self._redirects_file, json.dumps(moved, indent=1).encode("utf-8"))

    def moved_to(self, path: str, now: datetime | None = None) -> str | None:
        """The address a moved post's old path answers with (301), or None."""
        parts = [p for p in PurePosixPath("/" + path.lstrip("/")).parts if p != "/"]
        if len(parts) not in (1, 2) or parts[1:] not in ([], ["index.html"]) or self.load(parts[0]) is not None:
            return None
        target = self.redirects().get(parts[0])
        entry = self.load(target) if target else None
        return f"{self.base_url}{target}/" if entry is not None and entry.is_public(now or _now()) else None

    def entries(self) -> list[BlogEntry]:
        found = []
        for path in self.posts_dir.glob("*.json"):
            entry = self.load(path.stem)
            if entry is not None:
                found.append(entry)
        return sorted(found, key=lambda e: (e.published, e.slug), reverse=True)

    def public_entries(self, now: datetime | None = None) -> list[BlogEntry]:
        now = now or _now()
        return [e for e in self.entries() if e.is_public(now)]

    def store_audio(self, post: Post) -> str:
        if post.audio_path is None:
            return ""
        if not post.audio_path.is_file():
            raise PublishError(f"The memo's audio file {post.audio_path.name} is missing.")
        return self._copy_media(post.audio_path, f"{post.slug}{post.audio_path.suffix.lower()}")

    def store_image(self, post: Post, slug: str) -> str:
        if post.featured_image_path is None:
            return ""
        if not post.featured_image_path.is_file():
            raise PublishError("The post's featured image is missing from the media store.")
        name, _ = image_name(post, f"{slug}-image")
        return self._copy_media(post.featured_image_path, name)

    def _copy_media(self, source: Path, name: str) -> str:
        target = self.media_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        return name

    # --- rendering --------------------------------------------------------------------
    def _render(self, template: str, root: str, **context) -> bytes:
        context.setdefault("blog_title", self.settings.blog_title)
        page = self.env.get_template(template).render(root=root, base_url=self.base_url, **context)
        return page.encode("utf-8")

    def page(self, path: str, root: str = "/blog/", now: datetime | None = None):
        """(status, content type, body) for a path below /blog/ ("", "<slug>/", "feed.xml"...)."""
        parts = [p for p in PurePosixPath("/" + path.lstrip("/")).parts if p != "/"]
        if ".." in parts:
            return self.not_found(root)
        entries = self.public_entries(now)
        if not parts or parts == ["index.html"]:
            return 200, HTML, self._render("index.html", root, entries=entries, heading=None)
        if parts == ["feed.xml"]:
            return 200, "application/atom+xml; charset=utf-8", self._render(
                "feed.xml", root, entries=entries[:50], updated=max((e.updated for e in entries), default=None)
            )
        if parts == ["sitemap.xml"]:
            tags = sorted({slug for e in entries for _, slug in e.tag_slugs()})
            return 200, "application/xml; charset=utf-8", self._render("sitemap.xml", root, entries=entries, tags=tags)
        if len(parts) in (2, 3) and parts[0] == "tags" and parts[2:] in ([], ["index.html"]):
            tagged = [e for e in entries if any(slug == parts[1] for _, slug in e.tag_slugs())]
            if tagged:
                name = next(t for t, s in tagged[0].tag_slugs() if s == parts[1])
                return 200, HTML, self._render("index.html", root, entries=tagged, heading=name)
        if len(parts) == 2 and parts[0] == "media":
            file = self.media_dir / parts[1]
            # The published names first: an unknown (or overlong) name never reaches the disk.
            if any(e.audio == parts[1] for e in entries) and file.is_file():
                mime = next(e.audio_mime for e in entries if e.audio == parts[1])
                return 200, mime or "application/octet-stream", file.read_bytes()
            if any(e.image == parts[1] for e in entries) and file.is_file():
                return 200, mimetypes.guess_type(parts[1])[0] or "application/octet-stream", file.read_bytes()
        if len(parts) in (1, 2) and parts[1:] in ([], ["index.html"]):
            entry = self.load(parts[0])
            if entry is not None and entry.is_public(now or _now()):
                return 200, HTML, self._render("post.html", root, entry=entry)
        return self.not_found(root)

    def not_found(self, root: str):
        return 404, HTML, self._render("index.html", root, entries=[], heading=None, missing=True)

    def export(self, target: Path, now: datetime | None = None) -> list[Path]:
        """Write the public blog as a static folder; returns the files written."""
        now = now or _now()
        target = Path(target)
        written: list[Path] = []

        def put(rel: str, page_path: str, root: str) -> None:
            status, _, body = self.page(page_path, root=root, now=now)
            if status == 200:
                _atomic_write(target / rel, body)
                written.append(target / rel)

        entries = self.public_entries(now)
        put("index.html", "", "./")
        put("feed.xml", "feed.xml", "./")
        put("sitemap.xml", "sitemap.xml", "./")
        for entry in entries:
            put(f"{entry.slug}/index.html", f"{entry.slug}/", "../")
            for name in (entry.audio, entry.image):
                if name:
                    (target / "media").mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(self.media_dir / name, target / "media" / name)
                    written.append(target / "media" / name)
        for tag in sorted({slug for e in entries for _, slug in e.tag_slugs()}):
            put(f"tags/{tag}/index.html", f"tags/{tag}/", "../../")
        public = {e.slug for e in entries}
        for old, new in self.redirects().items():
            if new in public and old not in public:
                # A static host cannot answer 301: the old address points readers (and search
                # engines, by the canonical link) to the new one.
                page = (f'<!doctype html><meta charset="utf-8"><title>Moved</title>'
                        f'<link rel="canonical" href="{self.base_url}{new}/">'
                        f'<meta http-equiv="refresh" content="0; url=../{new}/"><a href="../{new}/">{new}</a>')
                _atomic_write(target / old / "index.html", page.encode("utf-8"))
                written.append(target / old / "index.html")
        return written


class BlogPublisher:
    """The built-in blog as a destination; its remote id is the post's slug."""

    kind = "blog"

    def __init__(self, destination: Destination | None, settings: Settings) -> None:
        self.destination = destination
        self.blog = Blog(settings)

    def close(self) -> None:  # nothing held open; here so callers can close any publisher
        pass

    def _remote(self, entry: BlogEntry) -> RemotePost:
        return RemotePost(remote_id=entry.slug, url=f"{self.blog.base_url}{entry.slug}/", status=entry.status)

    def _entry(self, post: Post, slug: str, previous: BlogEntry | None) -> BlogEntry:
        now = _now()
        when = post.publish_at_utc or (previous.published_at if previous else now)
        audio = self.blog.store_audio(post) if post.audio_path else (previous.audio if previous else "")
        image = self.blog.store_image(post, slug)
        if previous is not None and previous.image and previous.image != image:
            (self.blog.media_dir / previous.image).unlink(missing_ok=True)  # replaced or removed
        return BlogEntry(
            draft_id=post.draft_id, slug=slug, title=post.title, html=markdown_to_html(post.body_markdown),
            excerpt=post.excerpt, tags=list(post.tags), status=post.status,
            published=when.replace(microsecond=0).isoformat(), updated=now.isoformat(),
            author=post.author_name, language=post.language, audio=audio,
            audio_mime=post.audio_mime if audio else "", image=image,
        )  # fmt: skip

    def _free_slug(self, post: Post) -> str:
        slug, n = post.slug, 1
        while (other := self.blog.load(slug)) is not None and other.draft_id != post.draft_id:
            n += 1
            slug = f"{post.slug}-{n}"
        return slug

    def create(self, post: Post) -> RemotePost:
        slug = self._free_slug(post)
        entry = self._entry(post, slug, self.blog.load(slug))
        self.blog.save(entry)
        return self._remote(entry)

    def update(self, remote_id: str, post: Post) -> RemotePost:
        previous = self.blog.load(remote_id)
        if previous is None:
            raise PublishError(f"The blog has no post at /blog/{remote_id}/ to update.")
        slug = remote_id if post.slug == remote_id else self._free_slug(post)
        if post.audio_path is None and previous.audio and slug != remote_id:
            post = Post(**{**post.__dict__, "audio_path": self.blog.media_dir / previous.audio,
                           "audio_mime": previous.audio_mime})  # fmt: skip
        entry = self._entry(post, slug, previous)
        self.blog.save(entry)
        if slug != remote_id:
            self.blog.delete(remote_id)
            self.blog.add_redirect(remote_id, slug)
        return self._remote(entry)

    def unpublish(self, remote_id: str) -> None:
        entry = self.blog.load(remote_id)
        if entry is None:
            return  # already gone: unpublishing twice is not an error
        audio, entry.audio, entry.audio_mime = entry.audio, "", ""
        image, entry.image = entry.image, ""
        entry.status = "draft"
        entry.updated = _now().isoformat()
        self.blog.save(entry)
        for name in (audio, image):
            if name:
                # /blog/media/ serves whatever file is there: a withdrawn post's recording and
                # image go too (publishing again copies them back from the media store).
                (self.blog.media_dir / name).unlink(missing_ok=True)

    def find(self, post: Post, remote_id: str | None = None) -> RemotePost | None:
        if remote_id and (entry := self.blog.load(remote_id)) is not None:
            return self._remote(entry)
        for entry in self.blog.entries():
            if entry.draft_id == post.draft_id:
                return self._remote(entry)
        return None


def render_blog_path(path: str, settings: Settings) -> tuple[int, str, bytes]:
    """What the web app answers for /blog/<path>: (HTTP status, content type, body)."""
    return Blog(settings).page(path)


def export(directory: Path | str, settings: Settings) -> list[Path]:
    """`dictation blog export DIR`: the public blog as static files."""
    return Blog(settings).export(Path(directory))
