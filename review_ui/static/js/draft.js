// The draft: autosave every few seconds and on leaving, always with If-Match. A 412 opens
// the conflict view with both versions; nothing is overwritten without the user choosing.
import { api, request, t, toast } from "./common.js";

export const AUTOSAVE_MS = 3000;

export class DraftEditor {
  // `fields`: more of the draft saved with the text, {name: {input, get(), set(value)}}
  // (the publish tab's slug, excerpt and tags).
  constructor({ draftId, version, title, body, titleInput, bodyInput, stateEl, conflict, fields = {} }) {
    Object.assign(this, { draftId, version, titleInput, bodyInput, stateEl, conflict, fields });
    this.saved = { title, body_markdown: body, ...this.fieldValues() };
    this.automatic = new Set(); // fields to make from the text again with the next save
    this.saving = null;
    this.inConflict = false;
    this.problem = null; // a refusal (claimed by someone else...): wait for the next edit
    this.backupKey = `dictation-draft-${draftId}`;
    this.listeners = [];
    this.savedListeners = []; // told the server's draft after each save (its state may move)

    this.restoreBackup();
    for (const input of [titleInput, bodyInput, ...Object.values(fields).map((f) => f.input)]) {
      input.addEventListener("input", () => this.edited());
    }
    setInterval(() => { if (this.dirty && !this.problem) this.save(); }, AUTOSAVE_MS);
    const leave = () => { if (this.dirty) this.save({ keepalive: true }); };
    document.addEventListener("visibilitychange", () => { if (document.hidden) leave(); });
    window.addEventListener("pagehide", leave);
    window.addEventListener("beforeunload", (event) => {
      if (this.inConflict || (this.dirty && this.problem)) event.preventDefault();
    });
    conflict.keepMine.addEventListener("click", () => this.resolve("mine"));
    conflict.takeTheirs.addEventListener("click", () => this.resolve("theirs"));
  }

  fieldValues() {
    return Object.fromEntries(Object.entries(this.fields).map(([name, field]) => [name, field.get()]));
  }

  get current() {
    return { title: this.titleInput.value, body_markdown: this.bodyInput.value, ...this.fieldValues() };
  }

  get dirty() {
    const now = this.current;
    return this.automatic.size > 0 || Object.keys(now).some((key) => !same(now[key], this.saved[key]));
  }

  /** The server's post fields as saved and shown (a restore, the other side of a conflict). */
  takeFields(data) {
    for (const [name, field] of Object.entries(this.fields)) {
      if (!(name in data)) continue;
      field.set(data[name]);
      this.saved[name] = data[name];
    }
  }

  /** Make `name` (slug, excerpt, tags) from the text again: no longer set by hand. */
  makeAutomatic(name) {
    this.automatic.add(name);
    this.edited();
  }

  onChange(callback) { this.listeners.push(callback); }

  onSaved(callback) { this.savedListeners.push(callback); }

  /** The server's draft is now the text (a restore): take it as saved, as if typed and saved. */
  replace(data) {
    this.version = data.version;
    this.saved = { title: data.title, body_markdown: data.body_markdown };
    this.takeFields(data);
    this.titleInput.value = data.title;
    this.bodyInput.value = data.body_markdown;
    localStorage.removeItem(this.backupKey);
    this.show("saved", t("editor.saved_version", { v: this.version }));
    for (const listener of this.listeners) listener();
    for (const listener of this.savedListeners) listener(data);
  }

  edited() {
    this.problem = null;
    this.show("dirty", t("editor.unsaved"));
    // A copy in the browser survives a crash or a lost connection until the server has it.
    localStorage.setItem(this.backupKey, JSON.stringify({ version: this.version, ...this.current }));
    for (const listener of this.listeners) listener();
  }

  restoreBackup() {
    let backup = null;
    try { backup = JSON.parse(localStorage.getItem(this.backupKey) || "null"); } catch { backup = null; }
    if (!backup) return;
    const differs = backup.body_markdown !== this.saved.body_markdown || backup.title !== this.saved.title;
    if (backup.version === this.version && differs) {
      this.titleInput.value = backup.title;
      this.bodyInput.value = backup.body_markdown;
      this.show("dirty", t("editor.restored"));
    } else {
      localStorage.removeItem(this.backupKey);
    }
  }

  show(state, text) {
    this.stateEl.dataset.state = state;
    this.stateEl.textContent = text;
  }

  /** Save now (or wait for the save under way); resolves true once the server has the text. */
  async save({ keepalive = false } = {}) {
    if (this.inConflict) return false;
    if (this.saving) {
      await this.saving;
      if (!this.dirty) return true;
    }
    this.saving = this.send(keepalive);
    try {
      return await this.saving;
    } finally {
      this.saving = null;
    }
  }

  async send(keepalive) {
    const sent = this.current;
    const changes = {};
    const automatic = [...this.automatic];
    for (const key of Object.keys(sent)) {
      if (!same(sent[key], this.saved[key]) && !automatic.includes(key)) changes[key] = sent[key];
    }
    if (automatic.length) changes.automatic = automatic;
    if (!Object.keys(changes).length) {
      // Typed back to what the server has: nothing to send, and nothing unsaved either.
      this.show("saved", t("editor.saved_version", { v: this.version }));
      localStorage.removeItem(this.backupKey);
      return true;
    }
    this.show("saving", t("editor.saving"));
    const result = await request("PATCH", api(`/drafts/${this.draftId}`), {
      json: changes, headers: { "If-Match": `"${this.version}"` }, keepalive,
    });
    if (result.ok) {
      this.version = result.data.version;
      for (const name of automatic) this.automatic.delete(name);
      for (const [name, field] of Object.entries(this.fields)) {
        // Not typed in since this save left, and not being typed in: show what the server
        // made of it (from the text).
        if (same(field.get(), sent[name]) && field.input !== document.activeElement) field.set(result.data[name]);
      }
      this.saved = { title: result.data.title, body_markdown: result.data.body_markdown };
      for (const name of Object.keys(this.fields)) this.saved[name] = result.data[name];

      if (!this.dirty) localStorage.removeItem(this.backupKey);
      this.show(this.dirty ? "dirty" : "saved", this.dirty ? t("editor.unsaved") : t("editor.saved_version", { v: this.version }));
      for (const listener of this.savedListeners) listener(result.data);
      return !this.dirty;
    }
    if (result.status === 412) {
      this.openConflict(result.data?.current);
      return false;
    }
    if (result.status === 0) {
      this.show("error", t("editor.offline"));
      return false;
    }
    // Refused (claimed by someone else, frozen, signed out): keep the text, say why, and
    // try again only after the next edit.
    this.problem = result.message;
    this.show("error", t("editor.not_saved", { reason: result.message }));
    toast(result.message, "error");
    return false;
  }

  openConflict(theirs) {
    if (!theirs) return;
    this.inConflict = true;
    this.theirs = theirs;
    const box = this.conflict;
    box.mine.value = this.current.body_markdown;
    box.theirs.value = theirs.body_markdown;
    box.theirsBy.textContent = t("conflict.version", { v: theirs.version });
    box.root.hidden = false;
    this.show("conflict", t("editor.conflict"));
    box.mine.focus();
  }

  async resolve(choice) {
    const theirs = this.theirs;
    this.conflict.root.hidden = true;
    this.inConflict = false;
    // Either way the next save is based on the version now on the server.
    this.version = theirs.version;
    this.saved = { title: theirs.title, body_markdown: theirs.body_markdown };
    this.takeFields(theirs);
    if (choice === "mine") {
      this.bodyInput.value = this.conflict.mine.value;
    } else {
      this.titleInput.value = theirs.title;
      this.bodyInput.value = theirs.body_markdown;
    }
    this.edited();
    if (choice === "mine") await this.save();
    else this.show("saved", t("editor.saved_version", { v: this.version }));
    this.bodyInput.focus();
  }

  /** Put text at the caret as if typed (undo still works), e.g. a time mark. */
  insert(text, { spaced = false } = {}) {
    const box = this.bodyInput;
    if (box.readOnly) return; // frozen while awaiting sign-off: setRangeText would still write
    box.focus();
    const before = box.value.slice(0, box.selectionStart);
    if (spaced && before && !/\s$/.test(before)) text = ` ${text}`;
    if (!document.execCommand("insertText", false, text)) {
      box.setRangeText(text, box.selectionStart, box.selectionEnd, "end");
      box.dispatchEvent(new Event("input"));
    }
  }
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}
