// The worklist stays live: every 0.7 s it asks /worklist/live (same filters) with the ETag of
// what it shows; the server answers 304 until a memo arrives, moves, is claimed or edited, or a
// job makes progress, and then sends the counts and lanes, swapped in place. Short polling
// rather than server-sent events: nothing to reconnect after a sleep, a proxy or a restart.
// Not while the tab is hidden. A failed memo's Retry button queues it again.
import { api, localizeTimes, request, t, toast } from "./common.js";

const POLL_MS = 700;
let timer = null;
let etag = null;
let failed = false;
let pause = POLL_MS;

async function refresh() {
  clearTimeout(timer);
  if (document.hidden) return;
  const headers = { Accept: "text/html" };
  if (etag) headers["If-None-Match"] = etag;
  let response = null;
  const started = performance.now();
  try {
    response = await fetch(`/worklist/live${window.location.search}`, { credentials: "same-origin", cache: "no-store", headers });
  } catch (err) {
    response = null;
  }
  if (response && response.status === 401) {
    window.location.reload(); // signed out meanwhile: the page itself goes to the sign-in
    return;
  }
  if (!response || (!response.ok && response.status !== 304)) {
    if (!failed) document.getElementById("refresh-state").textContent = t("worklist.refresh_failed");
    failed = true;
    schedule();
    return;
  }
  failed = false;
  pause = POLL_MS;
  if (response.status !== 304) {
    etag = response.headers.get("ETag");
    swap(new DOMParser().parseFromString(await response.text(), "text/html"));
    document.getElementById("refresh-state").textContent = t("worklist.updated", { time: new Date().toLocaleTimeString() });
    // A long list that keeps changing (jobs reporting progress) costs the server a render per
    // poll: wait at least twice what that answer took, so a busy server is not asked faster
    // than it answers.
    pause = Math.max(POLL_MS, 2 * (performance.now() - started));
  }
  schedule();
}

function swap(fresh) {
  for (const selector of ["#worklist-body", ".counts", "#worklist-total"]) {
    const now = document.querySelector(selector), next = fresh.querySelector(selector);
    if (!now || !next) continue;
    // Keep the focused control: a keyboard user is not thrown back to the top.
    if (now.contains(document.activeElement) && document.activeElement !== document.body) continue;
    const folded = now.querySelector("[data-empty-states]");
    const unfolded = next.querySelector("[data-empty-states]");
    if (folded && unfolded) unfolded.open = folded.open;
    now.replaceWith(next);
  }
  localizeTimes(document.getElementById("worklist-body") || document);
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, pause);
}

document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-retry]");
  if (!button) return;
  button.disabled = true;
  const result = await request("POST", api(`/memos/${button.dataset.retry}/retry`));
  if (result.ok) toast(t("worklist.retried"));
  else toast(result.message, "error");
  refresh();
});

for (const box of document.querySelectorAll("[data-autosubmit-check]")) {
  box.addEventListener("change", () => box.form.requestSubmit());
}

schedule();
