// The side of the editor: tabs (preview, changes, comments, history), the live preview in
// the blog's template, comments, and the workflow buttons (a refused one says why) kept in
// step with the server. The Changes panel is revisions.js.
import { api, csrfToken, request, t, toast } from "./common.js";

export function installTabs(tablist) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute("aria-selected", String(on));
      other.tabIndex = on ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    tab.dispatchEvent(new CustomEvent("tab-shown", { bubbles: true }));
  };
  for (const tab of tabs) tab.addEventListener("click", () => select(tab, false));
  tablist.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length], true);
  });
}

const escapeHtml = (text) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

export class Preview {
  constructor(frame, memoId, onParagraphClick) {
    Object.assign(this, { frame, memoId, onParagraphClick });
    this.timer = null;
    this.pending = null;
    frame.addEventListener("load", () => this.wire());
  }

  schedule(title, body, delay = 500) {
    this.source = [title, body];
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.render(title(), body()), delay);
  }

  async render(title, body) {
    const response = await fetch("/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      // `extra`: the post fields (slug, excerpt, tags), shown above the post as readers meet it.
      body: JSON.stringify({ title, body_markdown: body, memo_id: this.memoId, ...(this.extra ? this.extra() : {}) }),
    }).catch(() => null);
    if (response?.status === 429) {
      // The previous preview is still being made (one at a time): ask again, with the text as it is then.
      this.schedule(...this.source, 1000);
      return;
    }
    if (response?.status === 422) {
      // Refused (too much formatting, nested too deep, too long): the frame says why, in words.
      const refusal = await response.json().catch(() => null);
      if (refusal?.message) this.frame.srcdoc = `<p>${escapeHtml(refusal.message)}</p>`;
      return;
    }
    if (!response || !response.ok) return;
    this.scrollY = this.frame.contentWindow?.scrollY || 0;
    // Sandboxed without scripts: the page is sanitised already, and could not run any anyway.
    this.frame.srcdoc = await response.text();
  }

  wire() {
    const doc = this.frame.contentDocument;
    if (!doc) return;
    this.frame.contentWindow.scrollTo(0, this.scrollY || 0);
    const blocks = [...doc.querySelectorAll(".content > *")];
    blocks.forEach((block, index) => {
      block.title = t("editor.preview_click");
      block.addEventListener("click", () => this.onParagraphClick(block.textContent, index, block));
    });
    for (const link of doc.querySelectorAll("a[href]")) link.addEventListener("click", (e) => e.preventDefault());
  }
}

/** The workflow's part of the page (state, claim, buttons with their reasons, the history)
 *  as the server renders it now: after a save moved the state (an edit after sign-off) or a
 *  restore, without reloading the page under the typist. */
export async function refreshHead() {
  const response = await fetch(window.location.pathname, { credentials: "same-origin" }).catch(() => null);
  if (!response || !response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const id of ["actions", "state-chip", "assignee", "panel-history"]) {
    const [now, then] = [document.getElementById(id), fresh.getElementById(id)];
    if (!now || !then) continue;
    now.innerHTML = then.innerHTML;
    now.className = then.className;
  }
}

export function installComments(draftId, form, list, counter) {
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = form.querySelector("textarea");
    const text = box.value.trim();
    if (!text) return;
    const result = await request("POST", api(`/drafts/${draftId}/comments`), { json: { body: text } });
    if (!result.ok) { toast(result.message, "error"); return; }
    const item = document.createElement("li");
    const who = document.createElement("span");
    who.className = "comment-author";
    who.textContent = result.data.author?.name || result.data.author?.email || "";
    const body = document.createElement("div");
    body.className = "comment-body";
    body.textContent = result.data.body; // text, never HTML
    item.append(who, " ", body);
    list.append(item);
    counter.textContent = String(list.children.length);
    box.value = "";
  });
}

export function installActions({ container, draftId, beforeAction, dialog }) {
  container.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    if (button.getAttribute("aria-disabled") === "true") {
      // Refused now: say why, in the workflow's words.
      toast(button.title || t("editor.refused"), "error");
      return;
    }
    let comment = null;
    if (button.hasAttribute("data-needs-comment")) {
      comment = await askReason(dialog);
      if (comment === null) return;
    }
    button.disabled = true;
    await beforeAction();
    const result = await request("POST", api(`/drafts/${draftId}/transitions`), {
      json: { action: button.dataset.action, comment },
    });
    if (result.ok) {
      toast(t("editor.action_done", { action: button.textContent.trim() }));
      window.location.reload();
    } else {
      button.disabled = false;
      toast(result.message, "error");
    }
  });
}

function askReason(dialog) {
  return new Promise((resolve) => {
    const text = dialog.querySelector("textarea");
    text.value = "";
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "send" && text.value.trim() ? text.value.trim() : null);
    }, { once: true });
    dialog.showModal();
    text.focus();
  });
}
