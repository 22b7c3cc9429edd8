"""Markdown -> sanitised HTML: what a memo may and may not put on the public blog."""

from __future__ import annotations

from dictation.publish.cms import Post
from dictation.publish.cms.render import audio_figure, markdown_to_html, post_html


def test_render_markdown_basics():
    html = markdown_to_html("# Plan\n\nWe **ship** in *May*.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h1>Plan</h1>" in html and "<strong>ship</strong>" in html and "<em>May</em>" in html
    assert "<li>one</li>" in html and "<td>1</td>" in html


def test_render_script_in_memo_as_text():
    html = markdown_to_html("Before <script>alert('x')</script> after")
    assert "<script" not in html and "&lt;script&gt;alert" in html


def test_render_drops_event_handlers_and_unsafe_links():
    html = markdown_to_html(
        '<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1)) [ok](https://example.com) '
        "![pic](data:text/html;base64,PHNjcmlwdD4=) [mail](mailto:a@example.com)"
    )
    assert "<img src=x" not in html and "onerror=alert(1)&gt;" in html  # inert text
    assert 'href="javascript' not in html and 'src="data:' not in html
    assert 'href="https://example.com" rel="noopener noreferrer"' in html
    assert 'href="mailto:a@example.com"' in html


def test_render_post_with_marker_and_escaped_audio_url():
    post = Post(draft_id="7", title="T", slug="t", body_markdown="Hi")
    html = post_html(post, audio_url='https://x/a.m4a"><script>')
    assert html.startswith("<!-- dictation-desk:draft=7; -->")
    assert "<script>" not in html and "&quot;&gt;&lt;script&gt;" in html
    assert "<p>Hi</p>" in html
    assert audio_figure("https://x/a.mp3", "audio/mpeg").count('type="audio/mpeg"') == 1
