"""The admin pages: destinations (secrets write-only, default, delete and the API's refusals),
users (add, role, deactivate, their tokens) and who may open them. Plain HTTP first, then
Chromium driving the pages against a live server."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from fastapi.testclient import TestClient

from review_ui.i18n import catalog
from tests.support.browser import (
    PASSWORD,
    UNNAMED_CONTROLS,
    Account,
    run_live_server,
    screenshot,
)

ADMIN_PATHS = ("/admin/destinations", "/admin/users", "/admin/users/1/tokens")
EN = catalog("en")


# --- plain HTTP -----------------------------------------------------------------------


@pytest.fixture
def app(data_dir):
    from dictation import accounts
    from dictation.settings import Settings
    from review_ui.app import create_app

    app = create_app(Settings(data_dir=data_dir, workers=0))
    with app.state.database.session() as session:
        accounts.create_user(session, "ada@example.com", "admin", password=PASSWORD, name="Ada")
        accounts.create_user(session, "alice@example.com", "assistant", password=PASSWORD, name="Alice")
        accounts.create_user(session, "erin@example.com", "author", password=PASSWORD, name="Erin")
    return app


def signed_in(app, email: str, language: str = "en") -> tuple[TestClient, str]:
    client = TestClient(app, headers={"Accept-Language": language})
    answer = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def test_refuse_admin_pages_to_strangers_assistants_and_authors(app):
    stranger = TestClient(app)
    for path in ADMIN_PATHS:
        answer = stranger.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    for email in ("alice@example.com", "erin@example.com"):
        client, csrf = signed_in(app, email)
        for path in ADMIN_PATHS:
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert EN["error.admin_only"] in answer.text
            assert 'id="destination-form"' not in answer.text and 'id="user-form"' not in answer.text
        assert 'href="/admin/destinations"' not in client.get("/tokens").text
        headers = {"X-CSRF-Token": csrf}
        hook = {"name": "sneaky", "kind": "webhook", "url": "https://example.com/hook", "secret": "s"}
        assert client.post("/api/v1/destinations", json=hook, headers=headers).status_code == 403
        assert client.patch("/api/v1/destinations/blog", json={"default": True}, headers=headers).status_code == 403


def test_show_admin_nav_and_pages_to_admin(app):
    client, _ = signed_in(app, "ada@example.com")
    assert 'href="/admin/destinations"' in client.get("/tokens").text
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/destinations"
    page = client.get("/admin/destinations")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert 'data-destination="blog"' in page.text and "data-default" in page.text
    assert client.get("/admin/users/999/tokens").status_code == 404


def test_set_default_destination_over_api(app):
    client, csrf = signed_in(app, "ada@example.com")
    headers = {"X-CSRF-Token": csrf}
    for name in ("press", "hooks"):
        body = {"name": name, "kind": "webhook", "url": f"https://example.com/{name}", "secret": "whsec_c2VjcmV0"}
        assert client.post("/api/v1/destinations", json=body, headers=headers).status_code == 201
    assert client.patch("/api/v1/destinations/hooks", json={"default": True}).status_code == 403  # no CSRF
    answer = client.patch("/api/v1/destinations/hooks", json={"default": True}, headers=headers)
    assert answer.status_code == 200 and answer.json()["default"] is True
    defaults = [d["name"] for d in client.get("/api/v1/destinations").json() if d["default"]]
    assert defaults == ["hooks"]
    # The default moves; it is never just dropped.
    refused = client.patch("/api/v1/destinations/hooks", json={"default": False}, headers=headers)
    assert refused.status_code == 422 and "another destination" in refused.json()["message"]
    assert client.patch("/api/v1/destinations/nowhere", json={"default": True}, headers=headers).status_code == 404
    assert client.patch("/api/v1/destinations/press", json={"secret": "x"}, headers=headers).status_code == 422
    from sqlalchemy import select

    from dictation.models import Destination

    with app.state.database.session() as session:
        stored = session.scalar(select(Destination.secret_encrypted).where(Destination.name == "press"))
    assert stored and "whsec_c2VjcmV0" not in stored and "c2VjcmV0" not in stored


def test_escape_names_on_admin_pages(app):
    client, csrf = signed_in(app, "ada@example.com")
    evil = '<img src=x onerror="alert(1)">'
    body = {"name": evil, "kind": "webhook", "url": "https://example.com/<b>hook</b>"}
    assert client.post("/api/v1/destinations", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    user = {"email": "mallory@example.com", "name": "<script>alert(2)</script>", "password": "long enough"}
    assert client.post("/api/v1/users", json=user, headers={"X-CSRF-Token": csrf}).status_code == 201
    destinations = client.get("/admin/destinations").text
    assert evil not in destinations and "&lt;img src=x onerror=" in destinations
    assert "<b>hook</b>" not in destinations
    users = client.get("/admin/users").text
    assert "<script>alert(2)" not in users and "&lt;script&gt;alert(2)" in users


def test_speak_french_on_admin_pages(app):
    client, _ = signed_in(app, "ada@example.com", language="fr")
    fr = catalog("fr")
    page = client.get("/admin/destinations").text
    for kind in ("wordpress", "ghost", "micropub", "webhook"):
        assert fr[f"admin.secret_{kind}"] in page and fr[f"admin.kind_{kind}"] in page
    assert fr["admin.kind_blog"] in page and fr["nav.admin"] in page
    assert fr["admin.initial_password"] in client.get("/admin/users").text


# --- in Chromium ----------------------------------------------------------------------

from playwright.sync_api import expect  # noqa: E402  a dev dependency: missing, the tests must fail


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    accounts = [Account("ada@example.com", "admin", "Ada Lovelace"),
                Account("alice@example.com", "assistant", "Alice Martin"),
                Account("erin@example.com", "author", "Erin Walsh")]
    with run_live_server(tmp_path_factory.mktemp("admin"), accounts) as server:
        yield server


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}}


def accept_next_dialog(page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())


@pytest.mark.browser
@pytest.mark.slow
def test_add_webhook_destination_make_default_and_delete(page, live_server):
    secret = "whsec_" + secrets.token_urlsafe(24)
    live_server.sign_in(page, "ada")
    page.goto(f"{live_server.url}/admin/destinations")
    page.get_by_label(EN["admin.name"], exact=True).fill("press-hooks")
    page.get_by_label(EN["admin.kind"], exact=True).select_option("webhook")
    expect(page.locator("#secret-hint-webhook")).to_be_visible()
    expect(page.locator("#secret-hint-wordpress")).to_be_hidden()
    expect(page.get_by_label(EN["admin.wordpress_user"])).to_be_hidden()
    page.get_by_label(EN["admin.address"], exact=True).fill("https://hooks.example.com/desk")
    page.get_by_label(EN["admin.secret"], exact=True).fill(secret)
    page.get_by_label(EN["admin.attach_audio"]).check()
    answers = []

    def keep_answer(route):
        # The page reloads at once, so the answer is read here, on its way to the page.
        answer = route.fetch()
        answers.append((route.request.method, answer.status, answer.text()))
        route.fulfill(response=answer)

    page.route("**/api/v1/destinations", keep_answer)
    page.get_by_role("button", name=EN["admin.add_destination_button"]).click()
    row = page.locator('tr[data-destination="press-hooks"]')
    expect(row).to_contain_text(EN["admin.secret_set"])
    expect(row).to_contain_text(EN["admin.kind_webhook"])
    expect(row).to_contain_text(EN["admin.with_audio"])
    expect(page.locator("#toast")).to_contain_text(EN["admin.destination_added"].format(name="press-hooks"))
    assert secret not in page.content()
    assert [(method, status) for method, status, _ in answers] == [("POST", 201)]
    assert secret not in answers[0][2] and '"has_secret":true' in answers[0][2]
    assert page.get_by_label(EN["admin.secret"], exact=True).input_value() == ""
    with live_server.api("ada") as api:
        listed = api.get("/api/v1/destinations")
    assert secret not in listed.text
    assert {"name": "press-hooks", "has_secret": True, "default": False}.items() <= \
        next(d for d in listed.json() if d["name"] == "press-hooks").items()
    screenshot(page, "admin-destinations")

    row.get_by_role("button", name=EN["admin.make_default_named"].format(name="press-hooks")).click()
    expect(page.locator('tr[data-destination="press-hooks"] [data-default]')).to_be_visible()
    expect(page.locator("[data-default]")).to_have_count(1)
    blog_button = EN["admin.make_default_named"].format(name="blog")
    expect(page.locator('tr[data-destination="blog"]').get_by_role("button", name=blog_button)).to_be_visible()
    page.locator('tr[data-destination="blog"] [data-make-default]').click()
    expect(page.locator('tr[data-destination="blog"] [data-default]')).to_be_visible()

    accept_next_dialog(page)
    delete = EN["admin.delete_named"].format(name="press-hooks")
    page.locator('tr[data-destination="press-hooks"]').get_by_role("button", name=delete).click()
    expect(page.locator('tr[data-destination="press-hooks"]')).to_have_count(0)
    with live_server.api("ada") as api:
        assert "press-hooks" not in [d["name"] for d in api.get("/api/v1/destinations").json()]


@pytest.mark.browser
@pytest.mark.slow
def test_refuse_to_delete_builtin_blog(page, live_server):
    live_server.sign_in(page, "ada")
    page.goto(f"{live_server.url}/admin/destinations")
    dismissed = []
    page.once("dialog", lambda dialog: (dismissed.append(dialog.message), dialog.dismiss()))
    page.locator('tr[data-destination="blog"] [data-delete-destination]').click()
    assert dismissed == [EN["admin.confirm_delete"].format(name="blog")]  # a "no" deletes nothing
    expect(page.locator("#admin-message")).to_be_hidden()
    accept_next_dialog(page)
    page.locator('tr[data-destination="blog"] [data-delete-destination]').click()
    # The API's own sentence, shown where a screen reader announces it.
    expect(page.locator("#admin-message")).to_have_text("The built-in blog cannot be removed.")
    expect(page.locator("#admin-message")).to_have_attribute("role", "alert")
    page.reload()
    expect(page.locator('tr[data-destination="blog"]')).to_have_count(1)


@pytest.mark.browser
@pytest.mark.slow
def test_add_author_who_can_sign_in(page, live_server, new_context):
    live_server.sign_in(page, "ada")
    page.goto(f"{live_server.url}/admin")
    page.get_by_role("navigation", name=EN["admin.nav"]).get_by_role("link", name=EN["admin.users"]).click()
    page.get_by_label(EN["admin.email"], exact=True).fill("nora@example.com")
    page.get_by_label(EN["admin.name"], exact=True).fill("Nora Quinn")
    page.get_by_label(EN["admin.role"], exact=True).select_option("author")
    page.get_by_label(EN["admin.user_language"]).select_option("fr")
    page.get_by_label(EN["admin.initial_password"]).fill("short")
    page.get_by_role("button", name=EN["admin.add_user_button"]).click()
    expect(page.locator("#admin-message")).to_have_text(EN["admin.password_hint"])
    page.get_by_label(EN["admin.initial_password"]).fill("nora's own words")
    page.get_by_role("button", name=EN["admin.add_user_button"]).click()
    row = page.locator('tr[data-user="nora@example.com"]')
    expect(row).to_contain_text("Nora Quinn")
    expect(row).to_contain_text("Français")
    expect(row.get_by_label("Role of nora@example.com")).to_have_value("author")
    assert "nora's own words" not in page.content()
    screenshot(page, "admin-users")

    nora = new_context().new_page()
    nora.goto(f"{live_server.url}/login")
    nora.locator("#login-form input[type=email]").fill("nora@example.com")
    nora.locator("#login-form input[type=password]").fill("nora's own words")
    nora.locator("#login-form button[type=submit]").click()
    nora.wait_for_url(f"{live_server.url}/phone")
    expect(nora.locator("html")).to_have_attribute("lang", "fr")
    expect(nora.get_by_role("link", name=catalog("fr")["nav.admin"])).to_have_count(0)


@pytest.mark.browser
@pytest.mark.slow
def test_change_role_deactivate_and_make_token_for_user(page, live_server):
    live_server.sign_in(page, "ada")
    page.goto(f"{live_server.url}/admin/users")
    row = page.locator('tr[data-user="erin@example.com"]')
    row.get_by_label("Role of erin@example.com").select_option("assistant")
    expect(page.locator("#toast")).to_contain_text("erin@example.com")
    with live_server.api("ada") as api:
        erin = next(u for u in api.get("/api/v1/users").json() if u["email"] == "erin@example.com")
        assert erin["role"] == "assistant"
        api.patch(f"/api/v1/users/{erin['id']}", json={"role": "author"})
    # The last admin cannot stop being one: the select shows the role kept, and why.
    own = page.locator('tr[data-user="ada@example.com"]').get_by_label("Role of ada@example.com")
    own.select_option("author")
    expect(page.locator("#admin-message")).to_contain_text("last active admin")
    expect(own).to_have_value("admin")

    row.get_by_role("link", name="API tokens of erin@example.com").click()
    page.get_by_label(EN["tokens.name"]).fill("Erin's iPad")
    page.get_by_role("button", name=EN["tokens.create"]).click()
    token = page.locator("#token-value")
    expect(token).to_have_text(re.compile(r"^dd_"))
    headers = {"Authorization": f"Bearer {token.text_content()}"}
    assert httpx.get(f"{live_server.url}/api/v1/users/me", headers=headers).json()["email"] == "erin@example.com"

    page.goto(f"{live_server.url}/admin/users")
    accept_next_dialog(page)
    page.get_by_role("button", name="Deactivate erin@example.com").click()
    expect(page.locator('tr[data-user="erin@example.com"]')).to_contain_text(EN["admin.inactive"])
    assert httpx.get(f"{live_server.url}/api/v1/users/me", headers=headers).status_code == 401
    page.get_by_role("button", name="Reactivate erin@example.com").click()
    expect(page.locator('tr[data-user="erin@example.com"]')).to_contain_text(EN["admin.active"])


@pytest.mark.browser
@pytest.mark.slow
def test_label_and_reach_admin_controls_with_keyboard(page, live_server):
    live_server.sign_in(page, "ada")
    for path in ("/admin/destinations", "/admin/users", "/admin/users/1/tokens"):
        page.goto(live_server.url + path)
        assert page.evaluate(UNNAMED_CONTROLS) == [], path
    page.goto(f"{live_server.url}/admin/destinations")
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.name "
                                     "|| document.activeElement.textContent.trim()"))
    for control in ("dest-name", "dest-kind", "dest-url", "dest-user", "dest-secret", "default", "attach_audio",
                    EN["admin.add_destination_button"], EN["admin.delete"], EN["nav.admin"]):
        assert control in reached, f"{control} cannot be reached with Tab"


@pytest.mark.browser
@pytest.mark.slow
def test_keep_assistant_out_of_admin_in_browser(page, live_server):
    live_server.sign_in(page, "alice")
    nav = page.get_by_role("navigation", name=EN["nav.label"])
    expect(nav.get_by_role("link", name=EN["nav.worklist"])).to_have_count(1)
    expect(nav.get_by_role("link", name=EN["nav.admin"])).to_have_count(0)
    for path in ADMIN_PATHS:
        answer = page.goto(live_server.url + path)
        assert answer.status == 403
        expect(page.locator("h1")).to_have_text(EN["error.admin_only"])
