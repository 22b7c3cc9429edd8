"""The built-in blog: posts appear at /blog/, in a valid Atom feed and sitemap, escaped and
sanitised; drafts and future posts stay hidden; the static export is complete."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.cms.blog import Blog, export, render_blog_path
from tests.conftest import shared_file

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture
def settings_changes():
    return {"public_url": "https://desk.example/", "blog_title": "Acme & Co news"}


@pytest.fixture
def blog(settings):
    return get_publisher(Destination(kind="blog"), settings)


def _post(**changes) -> Post:
    values = dict(draft_id="d1", title="Results <Q3> & plans", slug="results-q3", tags=("Finance", "Q3 2026"),
                  body_markdown="We **grew**.\n\n<script>alert('x')</script>", excerpt="A good quarter",
                  author_name="Claire Dupont")  # fmt: skip
    values.update(changes)
    return Post(**values)


def _page(settings, path):
    status, ctype, body = render_blog_path(path, settings)
    return (
        status,
        ctype,
        body.decode("utf-8") if ctype.startswith(("text", "application/atom", "application/xml")) else body,
    )


def test_publish_post_appears_on_index_and_page(blog, settings):
    remote = blog.create(_post())

    assert remote.url == "https://desk.example/blog/results-q3/" and remote.remote_id == "results-q3"
    status, ctype, index = _page(settings, "")
    assert status == 200 and ctype.startswith("text/html")
    assert "Results &lt;Q3&gt; &amp; plans" in index and 'href="/blog/results-q3/"' in index
    status, _, page = _page(settings, "results-q3/")
    assert status == 200
    assert "<strong>grew</strong>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert('x')&lt;/script&gt;" in page
    assert "Results &lt;Q3&gt; &amp; plans" in page and "Claire Dupont" in page
    assert 'href="/blog/tags/q3-2026/"' in page


def test_feed_is_valid_atom_with_absolute_links(blog, settings):
    blog.create(_post())
    blog.create(_post(draft_id="d2", slug="second", title="Second"))

    status, ctype, feed = _page(settings, "feed.xml")
    root = ET.fromstring(feed.encode("utf-8"))  # raises on invalid XML

    assert status == 200 and ctype.startswith("application/atom+xml")
    assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}title") == "Acme & Co news"
    entries = {e.findtext(f"{ATOM}title"): e for e in root.findall(f"{ATOM}entry")}
    assert set(entries) == {"Results <Q3> & plans", "Second"}
    entry = entries["Results <Q3> & plans"]
    assert entry.find(f"{ATOM}link").get("href") == "https://desk.example/blog/results-q3/"
    content = entry.findtext(f"{ATOM}content")
    assert "<strong>grew</strong>" in content and "<script>" not in content
    assert {c.get("label") for c in entry.findall(f"{ATOM}category")} == {"Finance", "Q3 2026"}
    datetime.fromisoformat(entry.findtext(f"{ATOM}updated"))


def test_sitemap_lists_posts_and_tags(blog, settings):
    blog.create(_post())
    _, _, sitemap = _page(settings, "sitemap.xml")
    locs = {u.findtext(f"{SITEMAP}loc") for u in ET.fromstring(sitemap.encode()).findall(f"{SITEMAP}url")}
    assert {"https://desk.example/blog/", "https://desk.example/blog/results-q3/",
            "https://desk.example/blog/tags/finance/"} <= locs  # fmt: skip


def test_tag_page_lists_only_tagged_posts(blog, settings):
    blog.create(_post())
    blog.create(_post(draft_id="d2", slug="other", title="Other post", tags=("People",)))

    status, _, page = _page(settings, "tags/finance/")
    assert status == 200 and "Results &lt;Q3&gt;" in page and "Other post" not in page
    assert _page(settings, "tags/nothing-here/")[0] == 404


@pytest.mark.parametrize("status", ["draft", "pending"])
def test_hide_unpublished_statuses(blog, settings, status):
    blog.create(_post(status=status))
    assert _page(settings, "results-q3/")[0] == 404
    assert "Results" not in _page(settings, "")[2] and "Results" not in _page(settings, "feed.xml")[2]


def test_show_scheduled_post_when_due(blog, settings):
    when = datetime.now(UTC) + timedelta(hours=2)
    blog.create(_post(status="future", publish_at=when))
    site = Blog(settings)

    assert site.page("results-q3/")[0] == 404
    assert site.page("results-q3/", now=when + timedelta(minutes=1))[0] == 200


def test_update_with_new_slug_moves_post_and_unpublish_hides_it(blog, settings):
    remote = blog.create(_post())
    moved = blog.update(remote.remote_id, _post(slug="results-q3-final", title="Final results"))

    assert moved.remote_id == "results-q3-final"
    assert _page(settings, "results-q3/")[0] == 404 and _page(settings, "results-q3-final/")[0] == 200
    assert blog.find(_post()).remote_id == "results-q3-final"  # found by draft, not by the old slug

    blog.unpublish(moved.remote_id)
    assert _page(settings, "results-q3-final/")[0] == 404
    assert blog.find(_post()) is not None  # still known, so republishing updates it


def test_other_draft_with_same_slug_gets_its_own_address(blog, settings):
    blog.create(_post())
    other = blog.create(_post(draft_id="d9", title="Someone else"))
    assert other.remote_id == "results-q3-2"
    assert "Results" in _page(settings, "results-q3/")[2]


def test_refuse_paths_outside_blog(blog, settings):
    blog.create(_post())
    for path in ("../data/blog/posts/results-q3.json", "media/../posts/results-q3.json", "posts/results-q3.json"):
        assert _page(settings, path)[0] == 404


def test_audio_is_served_and_exported(blog, settings, tmp_path):
    audio = shared_file("audio/memos/en_mb-us1.m4a")
    blog.create(_post(audio_path=audio, audio_mime="audio/mp4"))
    blog.create(_post(draft_id="d2", slug="second", title="Second", tags=()))

    status, ctype, body = render_blog_path("media/results-q3.m4a", settings)
    assert status == 200 and ctype == "audio/mp4" and body == audio.read_bytes()
    assert 'src="/blog/media/results-q3.m4a"' in _page(settings, "results-q3/")[2]

    out = tmp_path / "site"
    export(out, settings)

    assert (out / "media" / "results-q3.m4a").read_bytes() == audio.read_bytes()
    for rel in ("index.html", "feed.xml", "sitemap.xml", "results-q3/index.html", "second/index.html",
                "tags/finance/index.html", "tags/q3-2026/index.html"):  # fmt: skip
        assert (out / rel).is_file(), rel
    page = (out / "results-q3" / "index.html").read_text()
    assert 'src="../media/results-q3.m4a"' in page and 'href="../tags/finance/"' in page  # works from a folder
    assert 'href="../../results-q3/"' in (out / "tags" / "finance" / "index.html").read_text()
    ET.fromstring((out / "feed.xml").read_bytes())
