"""Fixtures for the browser tests: Debian's Chromium driven by Playwright (never a
downloaded browser), a factory of more browser contexts (`new_context`), and a live server
(uvicorn in a thread, the whole app, a temporary data dir, tiny.en and an in-process worker).
The fixtures are a plugin (tests/conftest.py); test modules import only the helpers."""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, need
from tests.support.servers import bound_socket, serve

CHROMIUM = Path("/usr/bin/chromium")
# As measured in ../shared/TESTING.md: no network chatter, no sandbox (root in a container).
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "correct horse battery"

# The accessible name as a screen reader would compute it, simplified: aria-label,
# aria-labelledby, <label>, the text of buttons, links and tabs, then title.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'button, input:not([type=hidden]), select, textarea, [role=slider], [role=tab], a[href], iframe')]
  .filter(el => el.getClientRects().length && !el.closest('[hidden]'))
  .filter(el => {
    const by = (el.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)
      .map(id => document.getElementById(id)?.textContent || '').join(' ');
    const text = ['BUTTON', 'A'].includes(el.tagName) || el.getAttribute('role') === 'tab' ? el.textContent : '';
    const labels = el.labels ? [...el.labels].map(l => l.textContent).join(' ') : '';
    const name = [el.getAttribute('aria-label'), by, labels, text, el.getAttribute('title')].join(' ');
    return !name.trim();
  })
  .map(el => el.outerHTML.slice(0, 140))"""


def chromium_path() -> Path:
    need(CHROMIUM.exists(), f"{CHROMIUM} is absent: apt-get install chromium chromium-driver (make test does)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": str(chromium_path()), "args": CHROMIUM_ARGS}


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def wait_until(page, expression: str, timeout_s: float = 30.0) -> None:
    """Wait until `expression` is true in the page. Playwright's wait_for_function runs its
    predicate through eval, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses;
    page.evaluate goes through the DevTools protocol, which the policy leaves alone."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        page.wait_for_timeout(50)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Account:
    email: str
    role: str
    name: str
    language: str | None = None
    token: str = ""  # a personal API token, for the test's own requests


@dataclass
class LiveServer:
    url: str
    app: object
    settings: object
    accounts: dict[str, Account] = field(default_factory=dict)

    def api(self, who: str) -> httpx.Client:
        token = self.accounts[who].token
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def upload(self, who: str, path: Path, **fields: str) -> dict:
        with self.api(who) as client, path.open("rb") as handle:
            answer = client.post("/api/v1/memos", files={"file": (path.name, handle)}, data=fields)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def memo(self, who: str, memo_id: int) -> dict:
        with self.api(who) as client:
            return client.get(f"/api/v1/memos/{memo_id}").json()

    def memo_ids(self, who: str) -> set[int]:
        with self.api(who) as client:
            return {memo["id"] for memo in client.get("/api/v1/memos", params={"limit": 200}).json()["items"]}

    def new_memo(self, who: str, before: set[int], timeout: float = 30.0) -> int:
        """The one memo of `who` that arrived since `before` was taken: tests on this shared
        server send as the same people, so the first row of a list may be another test's."""
        deadline = time.monotonic() + timeout
        while not (new := self.memo_ids(who) - before):
            assert time.monotonic() < deadline, f"no new memo of {who} reached the server"
            time.sleep(0.2)
        assert len(new) == 1, new
        return new.pop()

    def wait_for(self, who: str, memo_id: int, states=("ready",), timeout: float = 240.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            memo = self.memo(who, memo_id)
            if memo["status"] in states:
                return memo
            assert memo["status"] != "failed", memo.get("error")
            assert time.monotonic() < deadline, f"memo {memo_id} still {memo['status']}"
            time.sleep(0.5)

    def draft(self, who: str, draft_id: int) -> dict:
        with self.api(who) as client:
            return client.get(f"/api/v1/drafts/{draft_id}").json()

    def sign_in(self, page, who: str, next_path: str = "/") -> None:
        page.goto(f"{self.url}/login?next={next_path}")
        page.get_by_label(_label(page, "login.email")).fill(self.accounts[who].email)
        page.get_by_label(_label(page, "login.password")).fill(PASSWORD)
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url(lambda url: "/login" not in url)


def _label(page, key: str) -> str:
    from review_ui.i18n import catalog

    return catalog(page.evaluate("document.documentElement.lang") or "en")[key]


def _make_accounts(app, people: list[Account]) -> None:
    from dictation import accounts

    with app.state.database.session() as session:
        for account in people:
            user = accounts.create_user(session, account.email, account.role, password=PASSWORD, name=account.name,
                                        language=account.language)
            _, account.token = accounts.create_token(session, user, "tests")


@contextlib.contextmanager
def run_live_server(data_dir: Path, accounts: list[Account], **overrides):
    from dictation.jobs import start_in_process_worker
    from dictation.settings import Settings
    from review_ui.app import create_app

    sock = bound_socket()
    settings = Settings(
        data_dir=data_dir, model="tiny.en", language="en", beam_size=1, cpu_threads=1, workers=1,
        public_url=f"http://127.0.0.1:{sock.getsockname()[1]}", **overrides,
    )
    app = create_app(settings)
    _make_accounts(app, accounts)
    with serve(app, sock, lifespan="auto") as url:
        worker = start_in_process_worker(settings, workers=1)
        try:
            yield LiveServer(url, app, settings, {a.email.split("@")[0]: a for a in accounts})
        finally:
            if worker is not None:
                worker.stop(timeout=10)


DEFAULT_ACCOUNTS = (
    ("alice@example.com", "assistant", "Alice Martin", None),
    ("bob@example.com", "assistant", "Bob Stone", None),
    ("claire@example.com", "assistant", "Claire Dubois", "fr"),
    ("erin@example.com", "author", "Erin Walsh", None),
    ("dan@example.com", "author", "Dan Okafor", None),
)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The desk for the whole run (one model load, one worker): tests leave each other's memos
    alone. A module that changes who may sign in, or needs other settings, overrides it with
    its own `run_live_server`. One recording per author makes one memo, so two modules that
    upload the same file need different authors."""
    accounts = [Account(email, role, name, lang) for email, role, name, lang in DEFAULT_ACCOUNTS]
    with run_live_server(tmp_path_factory.mktemp("desk"), accounts) as server:
        yield server


@pytest.fixture
def new_context(browser, browser_context_args):
    """Makes more browser contexts (another person, another browser) with the module's context
    arguments plus `changes`; all are closed after the test, whether it passed or not."""
    made = []

    def make(in_browser=None, **changes):
        context = (in_browser or browser).new_context(**{**browser_context_args, **changes})
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
