"""Publishing from the review desk in Debian's Chromium: the editor's publish panel (now or at
a set time, progress, the post's link, a failure with Retry, Unpublish), the link in the
worklist and on the author's phone page, against a live server with an in-process worker."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from playwright.sync_api import expect  # a dev dependency: missing, the tests must fail, not skip

from tests.support.browser import (
    Account,
    run_live_server,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A zone that is not UTC, in summer time: a scheduled time must survive the conversion.
TIME_ZONE = "Europe/Paris"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "locale": "en-GB",
            "timezone_id": TIME_ZONE}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    accounts = [Account("alice@example.com", "assistant", "Alice Martin"),
                Account("erin@example.com", "author", "Erin Walsh")]
    # One attempt, no backoff: a destination that is down fails at once instead of after retries.
    with run_live_server(tmp_path_factory.mktemp("publish"), accounts, publish_max_attempts=1,
                         publish_backoff_s=0.0) as server:
        yield server


def ready_draft(server, title: str, body: str = "We open the harbour office on Monday.") -> tuple[int, int]:
    """A memo by Erin with a ready draft, written straight to the tables (no transcription)."""
    from sqlalchemy import select

    from dictation.models import User
    from tests.support.dbfixtures import make_draft, make_memo

    with server.app.state.database.session() as session:
        erin = session.scalar(select(User).where(User.email == "erin@example.com"))
        memo = make_memo(session, erin, status="ready", title=title)
        draft = make_draft(session, memo, title=title, body_markdown=body, slug="")
        return memo.id, draft.id


def publications(server, draft_id: int) -> list[dict]:
    with server.api("alice") as client:
        answer = client.get(f"/api/v1/drafts/{draft_id}/publications")
    assert answer.status_code == 200, answer.text
    return answer.json()


def open_publish_panel(page, server, memo_id: int):
    page.goto(f"{server.url}/memos/{memo_id}")
    page.get_by_role("button", name="Publish…").click()
    panel = page.locator("#panel-publish")
    expect(panel).to_be_visible()
    # The keyboard lands on the first choice of the panel.
    expect(page.get_by_label("Destination")).to_be_focused()
    return panel


def confirm_check(page, button: str = "Publish now") -> None:
    """A draft's first publication opens the check dialog (tests/test_ui_publish_check.py)."""
    dialog = page.get_by_role("dialog", name="Check before it goes out")
    dialog.get_by_role("button", name=button).click()
    expect(dialog).to_be_hidden()


@pytest.fixture
def desk(page, live_server):
    live_server.sign_in(page, "alice")
    return page


def publish_via_api(server, title: str) -> dict:
    """A memo published to the built-in blog through the API, waited for."""
    import time

    memo_id, draft_id = ready_draft(server, title)
    with server.api("alice") as client:
        assert client.post(f"/api/v1/drafts/{draft_id}/publish", json={}).status_code == 202
    deadline = time.monotonic() + 60
    while (memo := server.memo("alice", memo_id))["status"] != "published":
        assert memo["status"] != "failed", memo["error"]
        assert time.monotonic() < deadline, f"still {memo['status']}"
        time.sleep(0.3)
    return {**memo, "title": title, "draft_id": draft_id}


@pytest.fixture(scope="module")
def published_memo(live_server):
    """For the pages that show the post's link; the title must come out escaped."""
    return publish_via_api(live_server, "Tides & <b>tonnage</b> report")


def test_publish_ready_draft_to_blog_from_editor(desk, live_server):
    memo_id, draft_id = ready_draft(live_server, "Harbour lights tonight", "The lights go on at **nine**.")
    panel = open_publish_panel(desk, live_server, memo_id)
    expect(desk.get_by_label("Destination")).to_have_value("blog")  # the default, preselected
    expect(panel.get_by_text("Not published anywhere yet.")).to_be_visible()
    panel.get_by_role("button", name="Publish", exact=True).click()
    confirm_check(desk)

    item = panel.locator('li.publication[data-destination="blog"]')
    expect(item).to_have_attribute("data-status", "published", timeout=60_000)
    expect(item.locator(".pub-status")).to_have_text("Published")
    expect(desk.locator("#state-chip")).to_have_text("Published")
    link = item.get_by_role("link", name="View post on blog")
    href = link.get_attribute("href")
    assert href == f"{live_server.url}/blog/harbour-lights-tonight/"
    # The API agrees, and the header shows the same link.
    assert publications(live_server, draft_id)[0]["remote_url"] == href
    assert live_server.memo("alice", memo_id)["published_url"] == href
    expect(desk.locator("#post-link")).to_have_attribute("href", href)
    screenshot(desk, "editor-publish")

    with desk.expect_popup() as popup_info:
        link.click()
    post = popup_info.value
    post.wait_for_load_state()
    assert "/blog/harbour-lights-tonight/" in post.url
    expect(post.locator("h1")).to_contain_text("Harbour lights tonight")
    expect(post.locator("strong")).to_have_text("nine")
    post.close()


def test_show_post_link_in_worklist_with_show_published(desk, live_server, published_memo):
    desk.goto(f"{live_server.url}/worklist")
    row = desk.locator(f'tr[data-memo-id="{published_memo["id"]}"]')
    expect(row).to_have_count(0)  # published memos stay out of the way until asked for
    desk.get_by_label("Show published and archived").check()
    expect(row).to_be_visible()
    link = row.get_by_role("link", name=f"View post: {published_memo['title']}")
    expect(link).to_have_attribute("href", published_memo["published_url"])
    # The title was escaped, not run: no <b> made it into the row.
    expect(row.locator(".memo-title")).to_contain_text("<b>tonnage</b>")
    assert row.locator(".memo-title b").count() == 0
    link.focus()
    expect(link).to_be_focused()


def test_show_post_link_on_author_phone_page(page, live_server, published_memo):
    live_server.sign_in(page, "erin")
    page.goto(f"{live_server.url}/phone")
    item = page.locator(f'#my-memos li[data-memo-id="{published_memo["id"]}"]')
    link = item.get_by_role("link", name=f"View post: {published_memo['title']}")
    expect(link).to_have_attribute("href", published_memo["published_url"])
    expect(item.locator(".chip")).to_have_text("Published")


def test_schedule_publication_in_future_shows_time(desk, live_server):
    memo_id, draft_id = ready_draft(live_server, "Autumn regatta notice")
    panel = open_publish_panel(desk, live_server, memo_id)
    at = desk.get_by_label("Publication date and time")
    expect(at).to_be_disabled()
    panel.get_by_label("At a set time").check()
    expect(at).to_be_enabled()
    at.fill("2031-06-15T14:30")  # Paris summer time: 12:30 UTC
    panel.get_by_role("button", name="Publish", exact=True).click()
    confirm_check(desk, "Schedule it")

    item = panel.locator('li.publication[data-destination="blog"]')
    expect(item).to_have_attribute("data-status", "scheduled", timeout=15_000)
    expect(item.locator(".pub-status")).to_have_text("Scheduled")
    time_node = item.locator("time")
    expect(time_node).to_have_attribute("datetime", "2031-06-15T12:30:00Z")
    # Shown back in the reader's own zone (not 12:30, however the locale writes hours).
    expect(time_node).to_contain_text(re.compile(r"\b(14:30|2:30\sPM)"))
    stored = dt.datetime.fromisoformat(publications(live_server, draft_id)[0]["publish_at"])
    assert stored.replace(tzinfo=stored.tzinfo or dt.UTC) == dt.datetime(2031, 6, 15, 12, 30, tzinfo=dt.UTC)
    expect(desk.locator("#state-chip")).to_have_text("Scheduled")
    # A scheduled memo cannot be sent a second time; the button says why.
    expect(panel.locator("#publish-button")).to_have_attribute("aria-disabled", "true")
    screenshot(desk, "editor-publish-scheduled")

    desk.goto(f"{live_server.url}/worklist?done=1")
    row = desk.locator(f'tr[data-memo-id="{memo_id}"]')
    expect(row.locator("time")).to_have_attribute("datetime", "2031-06-15T12:30:00Z")
    expect(row.locator(".pub-when")).to_contain_text("Goes out on")


def test_refuse_scheduling_in_past(desk, live_server):
    memo_id, draft_id = ready_draft(live_server, "Yesterday's tide table")
    panel = open_publish_panel(desk, live_server, memo_id)
    panel.get_by_label("At a set time").check()
    desk.get_by_label("Publication date and time").fill("2020-01-01T09:00")
    panel.get_by_role("button", name="Publish", exact=True).click()
    expect(desk.locator("#toast")).to_have_text("Pick a date and time in the future.")
    assert publications(live_server, draft_id) == []


def test_show_failed_publication_error_and_retry(desk, live_server):
    from dictation.publish import destinations

    with live_server.app.state.database.session() as session:
        # A receiver nobody listens on: port 9 (discard) is closed on loopback.
        destinations.add_destination(session, live_server.settings, "press-hook", "webhook",
                                     url="http://127.0.0.1:9/hook", secret="signing secret")
    memo_id, draft_id = ready_draft(live_server, "Storm warning")
    panel = open_publish_panel(desk, live_server, memo_id)
    desk.get_by_label("Destination").select_option("press-hook")
    panel.get_by_role("button", name="Publish", exact=True).click()
    confirm_check(desk)

    item = panel.locator('li.publication[data-destination="press-hook"]')
    expect(item).to_have_attribute("data-status", "failed", timeout=60_000)
    error = publications(live_server, draft_id)[0]["error"]
    assert error
    expect(item.locator(".failure")).to_have_text(error)
    screenshot(desk, "editor-publish-failed")
    expect(item).to_have_attribute("data-attempts", "1")
    retry = item.get_by_role("button", name="Retry publishing to press-hook")
    retry.focus()
    desk.keyboard.press("Enter")  # reachable and usable without a mouse
    expect(item).to_have_attribute("data-attempts", "2", timeout=60_000)
    expect(item).to_have_attribute("data-status", "failed", timeout=60_000)
    assert publications(live_server, draft_id)[0]["attempts"] == 2
    assert live_server.memo("alice", memo_id)["status"] == "failed"


def test_unpublish_post_from_editor(desk, live_server):
    published = publish_via_api(live_server, "Closing the slipway")
    assert httpx.get(published["published_url"]).status_code == 200
    desk.goto(f"{live_server.url}/memos/{published['id']}")
    desk.get_by_role("tab", name="Publish").click()
    item = desk.locator('li.publication[data-destination="blog"]')
    desk.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Unpublish from blog").click()
    expect(item).to_have_attribute("data-status", "unpublished")
    expect(item.locator(".pub-status")).to_have_text("Taken down")
    expect(desk.locator("#post-link")).to_be_hidden()
    assert httpx.get(published["published_url"]).status_code == 404
