"""Issue 9 in Chromium: the sign-in page never sends the browser off-site, whatever `next`
says, and the account page ends another browser's session for real."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("next_path", ["/%09/evil.example", "/%0a/evil.example", "//evil.example",
                                       "/%5Cevil.example", "https:evil.example"])
def test_keep_sign_in_on_site_whatever_next_says(page, live_server, next_path):
    live_server.sign_in(page, "erin", next_path=next_path)
    assert urlsplit(page.url).netloc == urlsplit(live_server.url).netloc, page.url


def test_follow_next_on_this_site(page, live_server):
    live_server.sign_in(page, "erin", next_path="/tokens")
    assert urlsplit(page.url).path == "/tokens"


def test_end_other_browser_from_account_page(browser, live_server):
    office, phone = browser.new_context(), browser.new_context()
    try:
        office_page, phone_page = office.new_page(), phone.new_page()
        live_server.sign_in(phone_page, "erin", next_path="/phone")
        live_server.sign_in(office_page, "erin", next_path="/account")
        rows = office_page.locator("[data-end-session]:not([data-current])")
        assert rows.count() >= 1
        for _ in range(rows.count()):
            office_page.locator("[data-end-session]:not([data-current])").first.click()
            office_page.wait_for_timeout(300)
        assert office_page.locator("[data-end-session]:not([data-current])").count() == 0
        phone_page.goto(f"{live_server.url}/phone")
        assert "/login" in phone_page.url  # the phone's cookie is dead on the server
        office_page.goto(f"{live_server.url}/account")
        assert urlsplit(office_page.url).path == "/account"  # this browser is still signed in
    finally:
        office.close()
        phone.close()
