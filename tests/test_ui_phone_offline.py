"""The phone keeps every recording until the server has it (issue 10, part 4), in Debian's
Chromium with a fake microphone: each second recorded is in IndexedDB, a reload mid-recording
leaves it listed and sendable, a memo sent offline goes when the network is back with the
bytes the phone kept, and the page opens offline from its service worker."""

from __future__ import annotations

import struct

import httpx
import pytest
from playwright.sync_api import expect  # a dev dependency: missing, the tests must fail, not skip

from tests.support.browser import CHROMIUM_ARGS, chromium_path, screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

# Read straight from IndexedDB, not through the page's module: what the phone really holds.
# A database the page has not made yet is not made here either (that would block its upgrade).
KEPT = """async () => {
  const opening = indexedDB.open("dictation-desk-phone");
  let fresh = false;
  opening.onupgradeneeded = () => { fresh = true; opening.transaction.abort(); };
  const db = await new Promise((ok) => {
    opening.onsuccess = () => ok(opening.result);
    opening.onerror = () => ok(null);
  });
  if (!db || fresh) return [];
  const all = (name) => new Promise((ok, ko) => {
    const r = db.transaction(name).objectStore(name).getAll();
    r.onsuccess = () => ok(r.result);
    r.onerror = () => ko(r.error);
  });
  const recordings = await all("recordings"), chunks = await all("chunks");
  const out = [];
  for (const rec of recordings) {
    const mine = chunks.filter((c) => c.recordingId === rec.id).sort((a, b) => a.key - b.key);
    const bytes = await new Blob(mine.map((c) => c.blob)).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    let seconds = 0;
    if (bytes.byteLength) {
      const decoder = new OfflineAudioContext(1, 1, 48000);
      try { seconds = (await decoder.decodeAudioData(bytes.slice(0))).duration; } catch (e) {}
    }
    out.push({ id: rec.id, state: rec.state, queued: rec.queued, size: bytes.byteLength, chunks: mine.length,
      seconds, title: rec.metadata ? rec.metadata.title : null,
      sha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") });
  }
  db.close();
  return out;
}"""


@pytest.fixture(scope="module")
def fake_microphone(browser_type):
    """Chromium's own fake microphone (a beep each second): any sound will do here."""
    browser = browser_type.launch(
        executable_path=str(chromium_path()),
        args=CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
    )
    yield browser
    browser.close()


@pytest.fixture
def phone(fake_microphone, new_context, live_server):
    context = new_context(fake_microphone, permissions=["microphone"], base_url=live_server.url, locale="en-US",
                          **PHONE)
    page = context.new_page()
    live_server.sign_in(page, "dan")
    page.goto("/phone")
    return page


def _record(page, seconds: float) -> None:
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.locator("#rec-state")).to_have_text("Recording…")
    page.wait_for_timeout(seconds * 1000)


def test_keep_recording_after_reload_mid_recording(phone, live_server):
    before = live_server.memo_ids("dan")
    _record(phone, 0)
    # Kept while recording: a chunk a second, each in IndexedDB as it comes.
    wait_until(phone, f"({KEPT})().then((k) => k.length === 1 && k[0].chunks >= 2)", timeout_s=10)
    phone.reload()  # the page dies mid-recording

    pending = phone.locator("#pending")
    expect(pending).to_be_visible()
    expect(pending.locator("h2")).to_have_text("Saved on this phone, not yet sent")
    item = pending.locator("li[data-recording-id]")
    expect(item).to_have_count(1)
    expect(item.locator(".pending-state")).to_contain_text("recording interrupted")
    kept = phone.evaluate(KEPT)
    assert len(kept) == 1 and kept[0]["state"] == "recording"
    assert kept[0]["chunks"] >= 2 and kept[0]["size"] > 0
    assert kept[0]["seconds"] >= 1.0  # real audio: it decodes, about as long as what was recorded
    assert int(item.get_attribute("data-size")) == kept[0]["size"]
    wait_until(phone, "document.querySelector('#pending-list audio').readyState >= 1")  # playable here
    screenshot(phone, "phone-pending")

    item.get_by_role("button", name="Send now").click()
    memo_id = live_server.new_memo("dan", before)
    expect(pending).to_be_hidden(timeout=30_000)
    memo = live_server.memo("dan", memo_id)
    assert memo["sha256"] == kept[0]["sha256"] and memo["size_bytes"] == kept[0]["size"]
    assert phone.evaluate(KEPT) == []  # forgotten only once the server had it


def test_send_offline_recording_when_network_returns(phone, live_server):
    # The worker is active (ready never settles without one: give up after 15 s, and fail).
    assert phone.evaluate("""Promise.race([navigator.serviceWorker.ready.then((r) => Boolean(r.active)),
      new Promise((ok) => setTimeout(() => ok(false), 15000))])""")
    before = live_server.memo_ids("dan")
    _record(phone, 1.5)
    phone.get_by_role("button", name="Stop", exact=True).click()
    expect(phone.locator("#listen")).to_be_visible()
    phone.get_by_label("Title").fill("Said in a tunnel")

    phone.context.set_offline(True)
    phone.get_by_role("button", name="Send memo").click()
    expect(phone.locator("#upload-status")).to_contain_text("Connection lost", timeout=15_000)
    kept = phone.evaluate(KEPT)
    assert len(kept) == 1 and kept[0]["queued"] and kept[0]["title"] == "Said in a tunnel" and kept[0]["size"] > 0

    phone.reload()  # still offline: the service worker opens the page it kept
    expect(phone.locator("#rec-start")).to_be_visible()
    expect(phone.locator("#no-memos")).to_contain_text("You are offline")
    expect(phone.locator("#pending li[data-recording-id]")).to_contain_text("Said in a tunnel")
    expect(phone.get_by_label("Listen to Said in a tunnel")).to_be_visible()  # playable, named for a screen reader
    expect(phone.locator("#pending .pending-state")).to_contain_text("will be sent when the network is back")
    screenshot(phone, "phone-offline")
    cached = phone.evaluate("""async () => {
      const urls = [];
      for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) urls.push(r.url);
      return urls;
    }""")
    paths = [url.removeprefix(live_server.url) for url in cached]
    assert "/phone/shell" in paths
    assert all(p == "/phone/shell" or p.startswith("/static/") for p in paths), paths  # no API answer kept

    phone.context.set_offline(False)  # sent by itself: the online event, no click
    memo_id = live_server.new_memo("dan", before)
    expect(phone.locator("#pending")).to_be_hidden(timeout=30_000)
    memo = live_server.memo("dan", memo_id)
    assert memo["sha256"] == kept[0]["sha256"] and memo["title"] == "Said in a tunnel"
    assert phone.evaluate(KEPT) == []


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_serve_installable_manifest_and_worker_for_phone(live_server):
    with httpx.Client(base_url=live_server.url) as client:  # no cookie: browsers fetch manifests without one
        manifest = client.get("/phone/manifest.webmanifest", headers={"Accept-Language": "fr"})
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        body = manifest.json()
        assert body["start_url"] == body["scope"] == "/phone" and body["display"] == "standalone"
        assert body["short_name"] == "Dictée"
        sizes = {}
        for icon in body["icons"]:
            answer = client.get(icon["src"])
            assert answer.status_code == 200 and answer.headers["content-type"] == icon["type"]
            if icon["type"] == "image/png":
                sizes[icon["sizes"]] = _png_size(answer.content)
        assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}

        worker = client.get("/phone-sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert "/api/" not in worker.text  # it keeps the shell and static files only
        policy = worker.headers["content-security-policy"]
        assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy
        assert client.get("/phone/shell").status_code == 303  # the shell is for a signed-in person
