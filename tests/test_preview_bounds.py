"""The work of rendering Markdown is bounded (issue 9): for the preview, the sign-off page and
publishing alike. Bounds are stated as work (parser steps, nesting levels), never as time:
texts that would take seconds of CPU are refused with a sentence, long ordinary prose still
renders, and one person gets one preview at a time."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import func, select

from dictation.publish.cms.render import (
    MAX_STEPS,
    MarkdownTooComplex,
    check_markdown,
    markdown_to_html,
)
from tests.support.desk import ALICE, ERIN, desk_app, signed_in

# The reviewer's reproduction (300,000 characters each: 5.6 s of CPU for the list, 2.6 s for
# the emphasis marks), and a table whose 1,000-column header makes each one-character row
# 1,000 cells (two minutes unbounded).
PATHOLOGICAL = {
    "emphasis": ("*a **b _c" * 40000)[:300_000],
    "nested lists": ("- a\n  - b\n    - c\n" * 20000)[:300_000],
    "brackets": "[" * 150_000 + "]" * 150_000,
    "links": ("[x](https://e.example/a) ![i](https://e.example/i.png) " * 6000)[:300_000],
    "headings": ("# a\n" * 75000),
    "wide tables": ("|" + "a|" * 1000 + "\n|" + "-|" * 1000 + "\n" + "x\n" * 65 + "\n") * 70,
}
SENTENCE = "This text has more Markdown formatting than a blog post can carry"
# Three hours of dictation is about 150,000 characters of prose in paragraphs.
PROSE = ("We ship on Friday, said the team. It was a **long** day, and [the plan](https://example.com/plan) "
         "held; nobody could say otherwise.\n\n" * 1200)[:150_000]
POST = """# Spring plans

We ship on **Friday**, and the _whole_ team knows it. See [the plan](https://example.com/plan "Plan").

> A quote, with a [link](https://example.com).
> > And a reply.

1. First
2. Second
   - a nested point with `code`
   - ~~struck~~ and ![a picture](https://example.com/p.png)

| Day | Task |
|:----|-----:|
| Mon | Write |
| Tue | Ship |

```python
print("hello")
```

[ref]: https://example.com/ref
Text with a [reference][ref] and <https://example.com/auto>.
"""


def _rule_attempts(text: str) -> int:
    """Every parser rule attempt markdown-it makes for `text`, counted on a parser of our own."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"])
    attempts = 0

    def spy(fn):
        def rule(*args):
            nonlocal attempts
            attempts += 1
            return fn(*args)
        return rule

    for ruler in (md.block.ruler, md.inline.ruler, md.inline.ruler2):
        for rule in list(ruler.__rules__):
            ruler.at(rule.name, spy(rule.fn), {"alt": rule.alt})
    md.parse(text)
    return attempts


@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
def test_refuse_text_past_the_step_budget(kind):
    with pytest.raises(MarkdownTooComplex) as refused:
        markdown_to_html(PATHOLOGICAL[kind])
    assert refused.value.status == 422 and refused.value.detail["reason"] == "markdown_too_complex"
    assert refused.value.message.startswith(SENTENCE)


def test_count_every_rule_attempt_and_the_costly_ones_more():
    steps, attempts = check_markdown(POST), _rule_attempts(POST)
    # Each attempt is a step; links, images, references, fences and table cells are more.
    assert attempts > 100 and steps > attempts
    assert markdown_to_html(POST).count("<td") == 4


def test_count_table_cells_before_the_rows_are_made():
    table = "|" + "c|" * 10 + "\n|" + "-|" * 10 + "\n" + "x\n" * 20
    assert check_markdown(table) >= 4 * 10 * 20
    # 65 rows of 1,000 columns: refused before any row is made (4 steps a cell > the budget).
    one_wide_table = "|" + "a|" * 1000 + "\n|" + "-|" * 1000 + "\n" + "x\n" * 65
    assert 4 * 1000 * 65 > MAX_STEPS
    with pytest.raises(MarkdownTooComplex):
        check_markdown(one_wide_table)


def test_render_long_prose_within_a_fraction_of_the_budget():
    # A bold phrase and a link in every paragraph: under half a step a character.
    steps = check_markdown(PROSE)
    assert len(PROSE) == 150_000 and steps < 0.5 * len(PROSE) < MAX_STEPS
    html = markdown_to_html(PROSE)
    assert html.count("<p>") == PROSE.count("\n\n") + (not PROSE.endswith("\n\n"))
    assert html.count("<strong>long</strong>") == PROSE.count("**long**")


def _lists(depth: int) -> str:
    return "".join("  " * level + f"- level {level + 1}\n" for level in range(depth)) + "\nAfter the list.\n"


def _quotes(depth: int) -> str:
    return ">" * depth + " deep\n\nAfter the quote.\n"


def test_refuse_nesting_past_seven_lists_or_fifteen_quotes_instead_of_dropping_the_rest():
    html = markdown_to_html(_lists(7))
    assert html.count("<ul>") == 7 and "level 7" in html and "After the list." in html
    html = markdown_to_html(_quotes(15))
    assert html.count("<blockquote>") == 15 and "deep" in html and "After the quote." in html
    for text in (_lists(8), _quotes(16), (">" * 100 + " x\n") * 2900):
        with pytest.raises(MarkdownTooComplex) as refused:
            markdown_to_html(text)
        assert refused.value.detail["reason"] == "markdown_too_deep"
        assert "more than 7 lists or 15 quotes" in refused.value.message


# --- over HTTP ----------------------------------------------------------------------------


@pytest.fixture
def desk(data_dir):
    return desk_app(data_dir, people=(ERIN, ALICE))


def _user(session, email):
    from dictation.models import User

    return session.scalar(select(User).where(User.email == email))


def _preview(client, csrf, markdown, **headers):
    return client.post("/preview", json={"title": "T", "body_markdown": markdown},
                       headers={"X-CSRF-Token": csrf, **headers})


def test_preview_refuses_pathological_text_with_a_sentence_and_shows_long_prose(desk):
    client, csrf = signed_in(desk, ALICE[0])
    refused = _preview(client, csrf, PATHOLOGICAL["nested lists"])
    assert refused.status_code == 422
    assert refused.json()["error"] == "markdown_too_complex" and refused.json()["message"].startswith(SENTENCE)
    in_french = _preview(client, csrf, _quotes(40), **{"Accept-Language": "fr"})
    assert in_french.status_code == 422 and "imbriquées trop profondément" in in_french.json()["message"]
    shown = _preview(client, csrf, PROSE)
    assert shown.status_code == 200 and shown.text.count("<strong>long</strong>") == PROSE.count("**long**")


def test_one_preview_at_a_time_per_person(desk):
    from review_ui.preview import PREVIEWS

    alice, alice_csrf = signed_in(desk, ALICE[0])
    erin, erin_csrf = signed_in(desk, ERIN[0])
    with desk.state.database.session() as session:
        alice_id = _user(session, ALICE[0]).id
    with PREVIEWS.turn(alice_id) as mine:  # Alice's first preview, still being made
        assert mine
        second = _preview(alice, alice_csrf, "Hello")
        assert second.status_code == 429 and second.headers["Retry-After"] == "1"
        assert second.json()["message"] == (
            "Your previous preview is still being made; this one follows when it is ready.")
        assert _preview(erin, erin_csrf, "Hello").status_code == 200  # others are not held up
    assert _preview(alice, alice_csrf, "Hello").status_code == 200  # her turn is over


def test_signoff_page_says_why_a_pathological_draft_has_no_post(desk):
    from tests.support.dbfixtures import make_draft, make_memo

    with desk.state.database.session() as session:
        memo = make_memo(session, _user(session, ERIN[0]), status="in_review")
        make_draft(session, memo, body_markdown=PATHOLOGICAL["emphasis"])
        memo_id = memo.id
    erin, _ = signed_in(desk, ERIN[0])
    page = erin.get(f"/phone/memos/{memo_id}")
    assert page.status_code == 200 and SENTENCE in page.text


def test_publishing_refuses_pathological_text_before_the_job_and_in_it(client, api_app):
    from dictation import jobs
    from dictation.jobs.runner import describe
    from dictation.models import Draft, Job
    from tests.support.api import make_person
    from tests.support.dbfixtures import make_draft, make_memo, make_user

    assistant = make_person(api_app, "assistant")
    with api_app.state.database.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="in_review")
        draft_id = make_draft(session, memo, body_markdown=PATHOLOGICAL["nested lists"]).id
    refused = client.post(f"/api/v1/drafts/{draft_id}/publish", json={}, headers=assistant.auth)
    assert refused.status_code == 422 and refused.json()["reason"] == "markdown_too_complex"
    with api_app.state.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0

    # Text that changed after the request (or a job queued before this check): the job's own
    # rendering refuses it, with the same sentence, and does not try again.
    with api_app.state.database.session() as session:
        session.get(Draft, draft_id).body_markdown = "Hello."
    assert client.post(f"/api/v1/drafts/{draft_id}/publish", json={}, headers=assistant.auth).status_code == 202
    with api_app.state.database.session() as session:
        session.get(Draft, draft_id).body_markdown = PATHOLOGICAL["emphasis"]
        job_id = session.scalar(select(Job.id))
    assert jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings)) == "failed"
    with api_app.state.database.session() as session:
        job = session.get(Job, job_id)
        assert job.status == "failed" and (job.error or "").startswith(SENTENCE)
    with pytest.raises(MarkdownTooComplex) as refused:
        markdown_to_html(PATHOLOGICAL["emphasis"])
    assert describe(refused.value, 1) == (refused.value.message, False)  # not worth running again
