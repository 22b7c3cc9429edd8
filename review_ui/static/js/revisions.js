// The Changes panel: compare the current text with the machine's or with any saved version,
// restore one (a new version with its text, based on the version on screen), and keep the
// list of versions up to date as the draft is saved.
import { api, request, t, toast } from "./common.js";
import { refreshHead } from "./panels.js";

/** As the server writes a revision's time (review_ui.context.local_day): UTC, the page's order. */
function day(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const two = (n) => String(n).padStart(2, "0");
  const [y, m, d] = [when.getUTCFullYear(), two(when.getUTCMonth() + 1), two(when.getUTCDate())];
  const time = `${two(when.getUTCHours())}:${two(when.getUTCMinutes())}`;
  return document.documentElement.lang === "fr" ? `${d}/${m}/${y} ${time}` : `${y}-${m}-${d} ${time}`;
}

export class RevisionsPanel {
  constructor({ memoId, draftId, draft, select, target, restoreButton }) {
    Object.assign(this, { memoId, draftId, draft, select, target, restoreButton });
    select.addEventListener("change", () => this.load());
    restoreButton?.addEventListener("click", () => this.restore());
    // Every save may add a version or move the last one on: the list follows.
    draft.onSaved(() => this.refresh());
  }

  get shown() {
    return !this.target.closest("[hidden]");
  }

  async load() {
    const version = this.select.value;
    const query = version ? `?version=${encodeURIComponent(version)}` : "";
    const response = await fetch(`/memos/${this.memoId}/diff${query}`, { credentials: "same-origin" });
    this.target.innerHTML = response.ok ? await response.text() : "";
    if (this.restoreButton) this.restoreButton.hidden = !version || Number(version) === this.draft.version;
  }

  async refresh() {
    const result = await request("GET", api(`/drafts/${this.draftId}/revisions`));
    if (!result.ok || !Array.isArray(result.data)) return;
    const chosen = this.select.value;
    const first = this.select.options[0]; // the machine's text
    const options = result.data.map((r) => {
      const who = r.saved_by?.name || r.saved_by?.email || t("editor.machine");
      return new Option(`v${r.version} · ${who} · ${day(r.created_at)}`, String(r.version));
    });
    this.select.replaceChildren(first, ...options);
    // A version folded into a later one is gone from the list: compare with the machine's then.
    this.select.value = options.some((o) => o.value === chosen) ? chosen : "";
    if (this.shown) await this.load();
  }

  async restore() {
    const version = this.select.value;
    if (!version) return;
    // Edits on screen go first, so the restore is based on what the server has.
    if (!(await this.draft.save()) || this.draft.dirty) {
      toast(t("editor.unsaved"), "error");
      return;
    }
    this.restoreButton.disabled = true;
    const result = await request("POST", api(`/drafts/${this.draftId}/revisions/${version}/restore`), {
      headers: { "If-Match": `"${this.draft.version}"` },
    });
    this.restoreButton.disabled = false;
    if (result.status === 412) {
      this.draft.openConflict(result.data?.current);
      return;
    }
    if (!result.ok) {
      toast(result.message, "error");
      return;
    }
    toast(t("editor.restored_version", { v: version, new: result.data.version }));
    this.select.value = "";
    this.draft.replace(result.data); // a save like any other: the list and the diff follow
    refreshHead(); // the history says which version came back
  }
}
