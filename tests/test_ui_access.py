"""Keyboard and screen-reader reach of every page, and the API token page, in Chromium."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect  # a dev dependency: missing, the tests must fail, not skip

from tests.conftest import shared_file
from tests.support.browser import UNNAMED_CONTROLS, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


@pytest.fixture(scope="module")
def memo(live_server):
    uploaded = live_server.upload("erin", shared_file("audio/real/jfk.flac"), title="Ask not", priority="urgent")
    return live_server.wait_for("erin", uploaded["id"])


@pytest.mark.parametrize("who,path", [("alice", "/worklist"), ("alice", "/memos/{id}"), ("alice", "/tokens"),
                                      ("erin", "/phone"), ("erin", "/phone/memos/{id}")])
def test_label_every_control(page, live_server, memo, who, path):
    live_server.sign_in(page, who)
    page.goto(live_server.url + path.format(id=memo["id"]))
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    assert page.locator("main#main").count() == 1 and page.locator("h1").count() >= 1


def test_reach_player_and_draft_with_tab(page, live_server, memo):
    live_server.sign_in(page, "alice")
    page.goto(f"{live_server.url}/memos/{memo['id']}")
    reached = []
    for _ in range(70):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.dataset.action || ''"))
    for control in ("play", "back", "forward", "speed", "wave", "transcript", "draft-title", "draft-body",
                    "tab-preview", "claim"):
        assert control in reached, f"{control} cannot be reached with Tab"
    # On the waveform, the arrow keys move the audio.
    page.locator("#wave").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.getElementById('audio').currentTime") == pytest.approx(5, abs=0.2)
    assert page.locator("#wave").get_attribute("aria-valuenow") == "5"


def test_create_use_and_revoke_token(page, live_server):
    live_server.sign_in(page, "erin")
    page.goto(f"{live_server.url}/tokens")
    page.get_by_label("Name").fill("iPhone shortcut")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#token-value")
    expect(token).not_to_be_empty()
    value = token.text_content()
    assert value.startswith("dd_")
    expect(page.locator("#curl-line")).to_contain_text(f"Bearer {value}")
    expect(page.locator("#curl-line")).to_contain_text(f"{live_server.url}/api/v1/memos")
    screenshot(page, "tokens")
    auth = {"Authorization": f"Bearer {value}"}
    assert httpx.get(f"{live_server.url}/api/v1/memos", headers=auth).status_code == 200
    page.reload()
    row = page.locator("tr", has_text="iPhone shortcut")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("Revoked")
    assert httpx.get(f"{live_server.url}/api/v1/memos", headers=auth).status_code == 401
