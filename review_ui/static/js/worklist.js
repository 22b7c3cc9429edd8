// The worklist refreshes itself: every 2 s while a job runs, every 20 s otherwise, and
// not while the tab is hidden. A failed memo's Retry button queues it again.
import { api, localizeTimes, request, t, toast } from "./common.js";

const FAST_MS = 2000;
const SLOW_MS = 20000;
let timer = null;

function isRunning(doc = document) {
  return doc.getElementById("worklist-body")?.dataset.running === "1";
}

async function refresh() {
  clearTimeout(timer);
  if (document.hidden) return;
  const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (response.redirected || !response.ok) {
    document.getElementById("refresh-state").textContent = t("worklist.refresh_failed");
    schedule();
    return;
  }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const selector of ["#worklist-body", ".counts", "#worklist-total"]) {
    const now = document.querySelector(selector), next = fresh.querySelector(selector);
    // Keep the focused control: a keyboard user is not thrown back to the top.
    if (now && next && !now.contains(document.activeElement)) now.replaceWith(next);
  }
  localizeTimes(document.getElementById("worklist-body") || document);
  document.getElementById("refresh-state").textContent = t("worklist.updated", { time: new Date().toLocaleTimeString() });
  schedule();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, isRunning() ? FAST_MS : SLOW_MS);
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
