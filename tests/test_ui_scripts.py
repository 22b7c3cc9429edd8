"""The pages' scripts: each module runs once, from one address, and the API's address is
written in one place (the page's api-base, from the server's API prefix)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from api.app import API_PREFIX
from tests.conftest import ROOT

JS = ROOT / "review_ui" / "static" / "js"


def test_spell_api_address_in_no_script():
    spelled = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(JS.glob("*.js"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if API_PREFIX in line
    ]
    assert spelled == [], "scripts must build API addresses with api() from common.js"


@pytest.mark.browser
def test_sign_out_sends_one_delete(page, live_server):
    live_server.sign_in(page, "alice", "/worklist")
    deletes: list[str] = []
    page.on("request", lambda request: deletes.append(request.url) if request.method == "DELETE" else None)

    page.locator("#sign-out").click()
    page.wait_for_url(re.compile(r"/login"))

    assert deletes == [f"{live_server.url}{API_PREFIX}/session"]
    page.goto(f"{live_server.url}/worklist")
    assert "/login" in page.url  # the session is gone on the server too


@pytest.mark.browser
@pytest.mark.parametrize(("who", "path"), [("alice", "/worklist"), ("erin", "/phone"), ("erin", "/tokens")])
def test_load_each_script_module_from_one_address(page, live_server, who, path):
    scripts: list[str] = []
    page.on("request", lambda request: scripts.append(request.url) if "/static/js/" in request.url else None)
    live_server.sign_in(page, who, path)
    page.wait_for_load_state("networkidle")

    by_file: dict[str, set[str]] = {}
    for url in scripts:
        by_file.setdefault(urlsplit(url).path, set()).add(url)
    assert "/static/js/common.js" in by_file
    assert {name: urls for name, urls in by_file.items() if len(urls) > 1} == {}
    assert all("?v=" in url for url in scripts), scripts  # versioned: a new release is never stale
