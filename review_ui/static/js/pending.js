// "Saved on this phone, not yet sent": the recordings phonestore.js keeps, listed so the
// author can listen to them and send them, and sent by themselves once the author asked for
// it and the network is back (the online event, then retries with a growing wait).
import { api, request, t } from "./common.js";
import * as store from "./phonestore.js";
import { ResumableUpload } from "./upload.js";

const RETRY_MS = [5000, 15000, 30000, 60000, 120000, 300000];

/** Errors worth trying again by ourselves: the network, the server having a bad moment. */
function retryable(err) {
  return !err.status || err.status >= 500 || err.status === 408 || err.status === 429;
}

/** A page opened from the offline shell has no CSRF token: ask for one before sending. */
async function ensureCsrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta || meta.content) return;
  const answer = await request("GET", api("/session"));
  if (answer.ok) meta.content = answer.data.csrf_token;
  else if (answer.status === 401) throw Object.assign(new Error(t("phone.sign_in_to_send")), { status: 401 });
  else throw Object.assign(new Error(answer.message), { status: answer.status });
}

function kilobytes(size) {
  return size >= 1048576 ? `${(size / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(size / 1024))} kB`;
}

export class Outbox {
  /** userId: whose recordings these are (a phone may be shared); onSent(done, record) after a
   *  send this module started; hidden(): the ids the page shows elsewhere (its own form). */
  constructor({ userId, onSent, hidden = () => [] }) {
    Object.assign(this, { userId, onSent, hidden });
    this.sending = new Map(); // id -> the promise of its send: one upload per recording at a time
    this.failures = 0;
    this.timer = null;
    this.urls = [];
    window.addEventListener("online", () => this.drain());
  }

  /** Send one kept recording; resolves {memoId, duplicateOf} once the server has it, and only
   *  then forgets it. A send already under way for it is joined, never doubled. */
  send(id, callbacks = {}) {
    if (!this.sending.has(id)) {
      const promise = this.upload(id, callbacks).finally(() => this.sending.delete(id));
      this.sending.set(id, promise);
    }
    return this.sending.get(id);
  }

  async upload(id, { onProgress, onStatus } = {}) {
    const record = await store.get(id);
    if (!record) throw new Error(t("phone.pending_gone"));
    const file = await store.file(id);
    let done;
    try {
      await ensureCsrf();
      done = await new ResumableUpload(file, { metadata: record.metadata || {}, onProgress, onStatus }).start();
    } catch (err) {
      // A refusal is shown on the recording; a lost network is only "will be sent".
      await store.failed(id, retryable(err) ? "" : err.message).catch(() => {});
      throw err;
    }
    // Confirmed: a memo made of it, or the memo it duplicates (the server has those bytes).
    await store.remove(id);
    return done;
  }

  /** Send every recording the author asked to send, oldest first; on failure try again later. */
  async drain() {
    if (this.draining) return;
    this.draining = true;
    clearTimeout(this.timer);
    let again = false;
    try {
      const records = await store.list(this.userId);
      for (const record of records) {
        if (!record.queued || this.hidden().includes(record.id)) continue;
        try {
          const done = await this.send(record.id);
          this.failures = 0;
          this.onSent?.(done, record);
        } catch (err) {
          if (retryable(err)) { again = true; break; }
        }
      }
    } catch (err) {
      again = false; // no IndexedDB on this phone: nothing is kept, nothing to send
    } finally {
      this.draining = false;
      await this.render();
    }
    if (again) {
      const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)];
      this.failures += 1;
      this.timer = setTimeout(() => this.drain(), delay);
    }
  }

  /** Kept recordings, each with a player and Send / Delete buttons. */
  async render() {
    const section = document.getElementById("pending");
    const list = document.getElementById("pending-list");
    if (!section || !list) return;
    let records = [];
    try {
      records = (await store.list(this.userId)).filter((r) => !this.hidden().includes(r.id));
    } catch (err) {
      records = [];
    }
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    list.replaceChildren();
    for (const record of records) list.append(await this.item(record));
    section.hidden = records.length === 0;
  }

  async item(record) {
    const li = document.createElement("li");
    li.dataset.recordingId = record.id;
    li.dataset.size = String(record.size);
    const about = document.createElement("span");
    const title = document.createElement("strong");
    title.textContent = record.metadata?.title || record.name || t("editor.untitled");
    const when = new Date(record.createdAt).toLocaleString(document.documentElement.lang || undefined,
      { dateStyle: "medium", timeStyle: "short" });
    const state = this.sending.has(record.id) ? t("phone.pending_sending")
      : record.error ? t("phone.failed", { reason: record.error })
        : record.state === "recording" ? t("phone.pending_interrupted")
          : record.queued ? t("phone.pending_queued") : t("phone.pending_saved");
    const line = document.createElement("small");
    line.className = "muted pending-state";
    line.textContent = `${when} · ${kilobytes(record.size)} · ${state}`;
    about.append(title, document.createElement("br"), line);

    const player = document.createElement("audio");
    player.controls = true;
    player.preload = "metadata";
    player.setAttribute("aria-label", t("phone.listen_to", { title: title.textContent }));
    const file = await store.file(record.id);
    if (file) {
      player.src = URL.createObjectURL(file);
      this.urls.push(player.src);
    }
    const send = document.createElement("button");
    send.type = "button";
    send.className = "btn btn-primary btn-small pending-send";
    send.textContent = t("phone.pending_send");
    send.addEventListener("click", () => this.sendNow(record));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-quiet btn-small pending-delete";
    remove.textContent = t("phone.pending_delete");
    remove.addEventListener("click", async () => {
      if (!window.confirm(t("phone.pending_delete_confirm"))) return;
      await store.remove(record.id);
      await this.render();
    });
    const buttons = document.createElement("span");
    buttons.className = "pending-buttons";
    buttons.append(send, " ", remove);
    li.append(about, player, buttons);
    return li;
  }

  /** The author's Send on a kept recording: a recording cut short by a reload is kept as it is. */
  async sendNow(record) {
    if (record.state === "recording") await store.finish(record.id, record.name);
    await store.queue(record.id, record.metadata || {});
    const sending = this.send(record.id);
    await this.render(); // "Sending…"
    try {
      this.onSent?.(await sending, record);
    } catch (err) {
      if (retryable(err)) this.drain();
    }
    await this.render();
  }
}
