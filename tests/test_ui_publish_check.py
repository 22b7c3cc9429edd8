"""Issue 11 in the desk (Debian's Chromium, the shared live server with its worker): the publish
tab's slug, excerpt and tags follow the edited title and text until set by hand and show in
the preview; the check dialog before a first publication counts the low-confidence words
nobody clicked; "Live post differs — Update live post"; the featured image (sniffed by the
server); the dialog in French. Screenshots in /tmp/shots/C-*.png."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import wait_until
from tests.support.desk import wait_for
from tests.support.peers import tiny_png

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/shots")
WORDS = [("Okay,", 0.95), ("this", 0.97), ("is", 0.99), ("a", 0.98), ("memo", 0.9), ("for", 0.9),
         ("the", 0.92), ("blood.", 0.31), ("Kowalczyk", 0.22), ("agreed.", 0.8)]


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"C-{name}.png"))


def ready_draft(server, title: str, body: str) -> tuple[int, int]:
    """A memo by Erin whose transcript has two low-confidence words, with a ready draft."""
    from sqlalchemy import select

    from dictation.models import User
    from tests.support.dbfixtures import make_draft, make_memo

    words = [{"word": f" {w}", "start": i * 0.5, "end": i * 0.5 + 0.4, "probability": p}
             for i, (w, p) in enumerate(WORDS)]
    transcript = {"language": "en", "segments": [{"start": 0.0, "end": 5.0, "text": "", "words": words}]}
    with server.app.state.database.session() as session:
        erin = session.scalar(select(User).where(User.email == "erin@example.com"))
        memo = make_memo(session, erin, status="ready", title=title, transcript=transcript)
        draft = make_draft(session, memo, title=title, body_markdown=body, slug="okay-memo", excerpt=body)
        return memo.id, draft.id


def open_publish_tab(page, server, memo_id: int):
    page.goto(f"{server.url}/memos/{memo_id}")
    page.get_by_role("tab", name="Publish").click()
    return page.locator("#panel-publish")


def saved(page) -> None:
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=15_000)


def publish_through_check(page, panel) -> None:
    panel.get_by_role("button", name="Publish", exact=True).click()
    dialog = page.get_by_role("dialog", name="Check before it goes out")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Publish now").click()
    expect(panel.locator('li.publication[data-destination="blog"]')).to_have_attribute(
        "data-status", "published", timeout=60_000)


@pytest.fixture
def desk(page, live_server):
    live_server.sign_in(page, "alice")
    return page


def test_follow_title_until_slug_set_by_hand_in_editor(desk, live_server):
    memo_id, draft_id = ready_draft(live_server, "Okay memo", "Okay, this is a memo for the blood.")
    panel = open_publish_tab(desk, live_server, memo_id)
    slug = panel.get_by_label("Address (slug)")
    desk.locator("#draft-title").fill("Harbour budget for the blog")
    desk.locator("#draft-body").fill("The harbour budget is agreed. The harbour opens in May; the budget holds.")
    saved(desk)
    expect(slug).to_have_value("harbour-budget-for-the-blog")
    expect(panel.get_by_label("Excerpt")).to_have_value(re.compile(r"^The harbour budget is agreed\."))
    expect(panel.get_by_label("Tags", exact=True)).to_have_value("harbour, budget")
    state = panel.locator("#post-slug-state")
    expect(state).to_have_text("Made from the title and text")

    slug.fill("Harbour 2031")  # what an address can hold is sent: harbour-2031
    expect(state).to_have_text("Set by hand")
    saved(desk)
    desk.locator("#draft-title").fill("Harbour budget, final")
    saved(desk)
    expect(slug).to_have_value("harbour-2031")
    assert live_server.draft("alice", draft_id)["manual_fields"] == ["slug"]
    # The preview shows the post's address and excerpt above the post, as readers meet it.
    desk.get_by_role("tab", name="Preview").click()
    frame = desk.frame_locator("#preview-frame")
    expect(frame.locator(".preview-address")).to_have_text(re.compile(r"/blog/harbour-2031/$"))
    expect(frame.locator(".preview-excerpt")).to_contain_text("The harbour budget is agreed.")
    shot(desk, "preview-address-excerpt")
    desk.get_by_role("tab", name="Publish").click()
    shot(desk, "post-fields-by-hand")

    panel.locator('.post-field[data-field="slug"]').get_by_role("button", name="Make it from the text again").click()
    saved(desk)
    expect(slug).to_have_value("harbour-budget-final")
    expect(state).to_have_text("Made from the title and text")
    assert live_server.draft("alice", draft_id)["manual_fields"] == []


def test_check_before_first_publication_then_live_post_differs(desk, live_server):
    memo_id, draft_id = ready_draft(live_server, "Quay works", "The quay works start in June.")
    desk.goto(f"{live_server.url}/memos/{memo_id}")
    desk.locator("#draft-title").fill("Quay works this summer")
    saved(desk)
    # Clicking an unsure word plays it: it counts as listened to.
    desk.locator("#transcript .w.low", has_text="blood.").click()
    expect(desk.locator("#transcript .w.low.seen")).to_have_count(1)
    panel = open_publish_tab(desk, live_server, memo_id)
    panel.get_by_role("button", name="Publish", exact=True).click()
    dialog = desk.get_by_role("dialog", name="Check before it goes out")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#check-title")).to_have_text("Quay works this summer")
    expect(dialog.locator("#check-address")).to_have_text(f"{live_server.url}/blog/quay-works-this-summer/")
    expect(dialog.locator("#check-excerpt")).to_have_text("The quay works start in June.")
    expect(dialog.locator("#check-low")).to_contain_text("1 of 2 words the transcription was unsure of")
    expect(dialog.locator("#check-words li")).to_have_text(["Kowalczyk"])
    expect(dialog.get_by_role("button", name="Go back and check")).to_be_focused()
    shot(desk, "check-dialog")
    dialog.get_by_role("button", name="Go back and check").click()
    expect(dialog).to_be_hidden()
    expect(panel.get_by_text("Not published anywhere yet.")).to_be_visible()  # nothing went

    publish_through_check(desk, panel)
    assert httpx.get(f"{live_server.url}/blog/quay-works-this-summer/").status_code == 200
    expect(desk.locator("#live-differs")).to_be_hidden()

    desk.locator("#draft-body").fill("The quay works start in July, not June.")
    saved(desk)
    item = panel.locator('li.publication[data-destination="blog"]')
    expect(item.locator("[data-live-differs]")).to_contain_text("Live post differs")
    expect(desk.locator("#live-differs")).to_be_visible()
    assert live_server.draft("alice", draft_id)["live_differs"] is True
    item.scroll_into_view_if_needed()
    shot(desk, "live-post-differs")
    # An update is not a first publication: no check, straight out.
    item.get_by_role("button", name="Update the live post on blog").click()

    def updated():
        with live_server.api("alice") as client:
            (publication,) = client.get(f"/api/v1/drafts/{draft_id}/publications").json()
        return publication["status"] == "published" and publication["published_version"] == 3

    wait_for(updated, 60, "the update to go out")
    assert live_server.draft("alice", draft_id)["live_differs"] is False
    expect(item.locator("[data-live-differs]")).to_have_count(0, timeout=30_000)
    expect(desk.locator("#live-differs")).to_be_hidden()
    assert "July" in httpx.get(f"{live_server.url}/blog/quay-works-this-summer/").text


def test_pick_featured_image_and_refuse_non_image(desk, live_server, tmp_path):
    memo_id, draft_id = ready_draft(live_server, "Beacon", "The beacon is repainted.")
    panel = open_publish_tab(desk, live_server, memo_id)
    not_image = tmp_path / "notes.png"
    not_image.write_text("just text, named like an image")
    panel.get_by_label("Featured image").set_input_files(str(not_image))
    expect(desk.locator("#toast")).to_contain_text("JPEG, PNG, GIF or WebP")
    expect(panel.locator("#featured-thumb")).to_be_hidden()

    panel.get_by_label("Featured image").set_input_files(str(tiny_png(tmp_path / "cover.png", size=64)))
    expect(panel.locator("#featured-thumb")).to_be_visible()
    wait_until(desk, "document.getElementById('featured-thumb').naturalWidth === 64")  # the image itself came back
    assert live_server.draft("alice", draft_id)["featured_image"]
    panel.locator("#featured-thumb").scroll_into_view_if_needed()
    shot(desk, "featured-image")
    panel.get_by_role("button", name="Remove image").click()
    expect(panel.locator("#featured-thumb")).to_be_hidden()
    assert live_server.draft("alice", draft_id)["featured_image"] is None


def test_show_check_dialog_in_french(page, live_server):
    memo_id, _ = ready_draft(live_server, "Travaux du port", "Les travaux commencent en juin.")
    live_server.sign_in(page, "claire")
    page.goto(f"{live_server.url}/memos/{memo_id}")
    page.get_by_role("tab", name="Publier").click()
    expect(page.locator("#post-slug-state")).to_have_text("Tiré du titre et du texte")
    page.locator("#publish-button").click()
    dialog = page.get_by_role("dialog", name="Vérifier avant publication")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#check-low")).to_contain_text("2 des 2 mots dont la transcription doutait")
    shot(page, "check-dialog-fr")
    dialog.get_by_role("button", name="Revenir vérifier").click()
    expect(dialog).to_be_hidden()
