// The editor's publish panel: a destination, now or a set time, and the list of where this
// draft went. The list is the server's own fragment (escaped there), asked for again every
// 1.5 s while a publication runs and every 20 s while one waits for its time. A draft's first
// publication opens the check dialog (GET /drafts/{id}/publish-check, as the API gives it);
// a live post that differs from the draft offers "Update live post" in the list.
import { api, localizeTimes, request, t, toast } from "./common.js";

const FAST_MS = 1500;
const SLOW_MS = 20000;

export class PublishPanel {
  constructor({ memoId, draftId, form, list, stateChip, postLink, tab, openButton, beforePublish, checkDialog }) {
    Object.assign(this, { memoId, draftId, form, list, stateChip, postLink, tab, beforePublish, checkDialog });
    this.liveDiffers = document.getElementById("live-differs");
    this.liveDiffers?.addEventListener("click", () => tab.click());
    this.timer = null;
    this.lastHtml = null;
    this.at = form.querySelector("#publish-at");
    this.button = form.querySelector("#publish-button");
    this.refused = form.querySelector("#publish-refused");
    for (const radio of form.querySelectorAll('input[name="when"]')) {
      radio.addEventListener("change", () => this.whenChanged());
    }
    form.addEventListener("submit", (event) => { event.preventDefault(); this.publish(); });
    list.addEventListener("click", (event) => this.listClicked(event));
    openButton?.addEventListener("click", () => {
      tab.click();
      form.querySelector("select").focus();
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.refresh(); });
    this.applyState();
    this.schedule();
  }

  get fragment() {
    return this.list.querySelector("#publications-list");
  }

  whenChanged() {
    const later = this.form.querySelector('input[name="when"]:checked').value === "later";
    this.at.disabled = !later;
    if (later) {
      this.at.min = localInputValue(new Date(Date.now() + 60_000));
      if (!this.at.value) this.at.value = localInputValue(new Date(Date.now() + 3_600_000));
      this.at.focus();
    }
  }

  async publish() {
    if (this.button.getAttribute("aria-disabled") === "true") {
      toast(this.button.title || t("editor.refused"), "error");
      return;
    }
    const later = this.form.querySelector('input[name="when"]:checked').value === "later";
    let publishAt = null;
    if (later) {
      const when = new Date(this.at.value); // the browser's own time zone, as the user sees it
      if (!this.at.value || Number.isNaN(when.getTime()) || when.getTime() <= Date.now()) {
        toast(t("publish.pick_future"), "error");
        this.at.focus();
        return;
      }
      publishAt = when.toISOString();
    }
    this.button.disabled = true;
    try {
      // The text on screen is what goes out: never an older version behind it.
      if (this.beforePublish && !(await this.beforePublish())) { toast(t("publish.not_saved"), "error"); return; }
      const destination = this.form.querySelector("select").value;
      if (!(await this.checked(destination, Boolean(publishAt)))) return;
      const result = await request("POST", api(`/drafts/${this.draftId}/publish`), {
        json: { destination, publish_at: publishAt },
      });
      if (!result.ok) { toast(result.message, "error"); return; }
      toast(publishAt ? t("publish.scheduled_toast", { destination }) : t("publish.queued_toast", { destination }));
    } finally {
      this.button.disabled = false;
    }
    await this.refresh();
  }

  /** The first publication goes out only once someone has seen the check; true to go on. */
  async checked(destination, later) {
    const query = `?destination=${encodeURIComponent(destination)}`;
    const result = await request("GET", api(`/drafts/${this.draftId}/publish-check${query}`));
    if (!result.ok) { toast(t("check.failed", { reason: result.message }), "error"); return false; }
    const check = result.data;
    if (!check.first_publication || !this.checkDialog) return true;
    const box = this.checkDialog;
    const put = (id, text) => { box.querySelector(`#${id}`).textContent = text; };
    put("check-intro", t("check.intro", { destination: check.destination }));
    put("check-title", check.title);
    put("check-address", check.url || t("check.address_later", { destination: check.destination, slug: check.slug }));
    put("check-excerpt", check.excerpt || "–");
    put("check-tags", check.tags.join(", ") || "–");
    put("check-image", check.featured_image ? t("check.yes") : t("check.no"));
    box.querySelector("#check-low").dataset.unchecked = String(check.unchecked_low_words);
    put("check-low", check.unchecked_low_words
      ? t("check.low_some", { n: check.unchecked_low_words, total: check.low_words })
      : t("check.low_none"));
    const words = box.querySelector("#check-words");
    words.replaceChildren(...check.unchecked.map((word) => {
      const item = document.createElement("li");
      item.textContent = word.word; // text, never HTML
      return item;
    }));
    put("check-confirm", later ? t("check.confirm_later") : t("check.confirm"));
    box.returnValue = "";
    box.showModal();
    box.querySelector("#check-cancel").focus();
    await new Promise((resolve) => box.addEventListener("close", resolve, { once: true }));
    return box.returnValue === "go";
  }

  async listClicked(event) {
    const again = event.target.closest("[data-publish-again]");
    const down = event.target.closest("[data-unpublish]");
    if (!again && !down) return;
    const button = again || down;
    if (down && !window.confirm(t("publish.unpublish_confirm", { destination: down.dataset.unpublish }))) return;
    button.disabled = true;
    const result = again
      ? await request("POST", api(`/drafts/${this.draftId}/publish`), { json: { destination: again.dataset.publishAgain } })
      : await request("POST", api(`/drafts/${this.draftId}/unpublish`), { json: { destination: down.dataset.unpublish } });
    if (result.ok) toast(again ? t("publish.retried") : t("publish.unpublished"));
    else { toast(result.message, "error"); button.disabled = false; }
    await this.refresh();
  }

  async refresh() {
    clearTimeout(this.timer);
    const response = await fetch(`/memos/${this.memoId}/publications`, {
      credentials: "same-origin", headers: { Accept: "text/html" },
    }).catch(() => null);
    if (response && response.ok && !response.redirected) {
      const html = await response.text();
      // Swapped only when something changed: the region is live, a screen reader hears it.
      if (html !== this.lastHtml) this.swap(html);
      this.lastHtml = html;
    }
    this.schedule();
  }

  swap(html) {
    const active = this.list.contains(document.activeElement) ? document.activeElement : null;
    const key = active?.dataset.focusKey;
    const template = document.createElement("template");
    template.innerHTML = html; // rendered and escaped by the server's templates
    this.fragment.replaceWith(template.content);
    localizeTimes(this.list);
    this.applyState();
    if (active) {
      // The button pressed may be gone (retry -> publishing): keep the keyboard near it.
      const same = key && this.list.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      (same || document.getElementById("publications-h")).focus();
    }
  }

  applyState() {
    const node = this.fragment;
    if (!node) return;
    const { memoState, stateLabel, canPublish, refused, postUrl } = node.dataset;
    if (this.stateChip && memoState) {
      this.stateChip.className = `chip state-${memoState}`;
      this.stateChip.textContent = stateLabel;
    }
    if (canPublish === "1") {
      this.button.removeAttribute("aria-disabled");
      this.button.removeAttribute("title");
    } else {
      this.button.setAttribute("aria-disabled", "true");
      this.button.title = refused;
    }
    this.refused.textContent = canPublish === "1" ? "" : refused;
    if (this.postLink) {
      this.postLink.hidden = !postUrl;
      this.postLink.href = postUrl || "#";
    }
    if (this.liveDiffers) this.liveDiffers.hidden = !node.querySelector("[data-live-differs]");
  }

  schedule() {
    clearTimeout(this.timer);
    const node = this.fragment;
    if (!node || document.hidden) return;
    if (node.dataset.dueSoon === "1") this.timer = setTimeout(() => this.refresh(), FAST_MS);
    else if (node.dataset.moving === "1") this.timer = setTimeout(() => this.refresh(), SLOW_MS);
  }
}

/** A Date as a datetime-local input writes it: local time, minutes. */
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A click on a low-confidence word of the transcript (which plays it) marks it looked at. */
export function installLookedAt({ transcript, draftId, lookedAt, label }) {
  const words = [...transcript.querySelectorAll(".w[data-s]")];
  const mark = (index) => {
    const word = words[index];
    if (!word || word.classList.contains("seen")) return;
    word.classList.add("seen");
    word.title = `${word.title} · ${label}`;
  };
  for (const index of lookedAt || []) mark(index);
  transcript.addEventListener("click", async (event) => {
    const word = event.target.closest(".w.low[data-s]");
    if (!word || word.classList.contains("seen")) return;
    const index = words.indexOf(word);
    const result = await request("POST", api(`/drafts/${draftId}/looked-at`), { json: { words: [index] } });
    if (result.ok) mark(index);
  });
}
