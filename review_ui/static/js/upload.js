// A small tus 1.0 client (creation + core protocol): POST to create, HEAD to learn the
// offset, PATCH in 2 MB chunks with Upload-Offset. A dropped connection is retried with
// back-off from the offset the server really has, so no byte is sent twice or lost.
import { api, csrfToken } from "./common.js";

export const CHUNK_BYTES = 2 * 1024 * 1024;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const MAX_FAILURES = 40; // about ten minutes of a dead connection before giving up

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fingerprint(file) {
  return `dictation-tus:${file.name}:${file.size}:${file.lastModified}`;
}

/** One HTTP exchange; resolves {status, headers} (status 0 when the connection failed). */
function send(method, url, headers, body, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.withCredentials = true;
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => resolve({ status: xhr.status, header: (n) => xhr.getResponseHeader(n), text: xhr.responseText });
    xhr.onerror = xhr.ontimeout = xhr.onabort = () => resolve({ status: 0, header: () => null, text: "" });
    xhr.send(body ?? null);
  });
}

export class ResumableUpload {
  constructor(file, { endpoint = api("/uploads/"), metadata = {}, onProgress, onStatus, chunkSize = CHUNK_BYTES }) {
    Object.assign(this, { file, endpoint, metadata, onProgress, onStatus, chunkSize });
    this.url = localStorage.getItem(fingerprint(file));
    this.offset = 0;
    this.failures = 0;
  }

  headers(extra = {}) {
    return { "Tus-Resumable": "1.0.0", "X-CSRF-Token": csrfToken(), ...extra };
  }

  async wait(reason) {
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures += 1;
    if (this.failures > MAX_FAILURES) throw new Error(reason);
    this.onStatus?.("retrying", { seconds: Math.ceil(delay / 1000) });
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      // Back online: try at once instead of waiting out the back-off.
      window.addEventListener("online", () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }

  async create() {
    const metadata = Object.entries({ filename: this.file.name, filetype: this.file.type, ...this.metadata })
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(([key, value]) => `${key} ${b64(String(value))}`)
      .join(",");
    const reply = await send("POST", this.endpoint, this.headers({
      "Upload-Length": String(this.file.size), "Upload-Metadata": metadata,
    }));
    if (reply.status !== 201) return reply;
    // The server answers with a path (never an address built from the Host header, which a
    // client chooses); tus says a relative Location is resolved against the upload URL.
    this.url = new URL(reply.header("Location"), new URL(this.endpoint, globalThis.location.href)).href;
    localStorage.setItem(fingerprint(this.file), this.url);
    this.offset = 0;
    return reply;
  }

  /** Where the server stands; false when the upload is unknown there (start again). */
  async locate() {
    const reply = await send("HEAD", this.url, this.headers());
    if (reply.status === 200 || reply.status === 204) {
      this.offset = Number(reply.header("Upload-Offset"));
      this.memoId = reply.header("Memo-Id") || this.memoId;
      return true;
    }
    if (reply.status === 404 || reply.status === 410 || reply.status === 403) return false;
    return null; // the connection or the server failed: try again later
  }

  async start() {
    this.onStatus?.("starting");
    for (;;) {
      if (this.url) {
        const known = await this.locate();
        if (known === null) { await this.wait("The server cannot be reached."); continue; }
        if (!known) { this.url = null; localStorage.removeItem(fingerprint(this.file)); continue; }
      } else {
        const reply = await this.create();
        if (reply.status === 0 || reply.status >= 500) { await this.wait("The server cannot be reached."); continue; }
        if (reply.status !== 201) throw failure(reply);
      }
      const finished = await this.sendChunks();
      if (finished) {
        localStorage.removeItem(fingerprint(this.file));
        this.onProgress?.(this.file.size, this.file.size);
        return { memoId: this.memoId, url: this.url, duplicateOf: this.duplicateOf };
      }
    }
  }

  /** PATCH until done (true) or the connection drops (false: locate and go on). */
  async sendChunks() {
    while (this.offset < this.file.size) {
      const end = Math.min(this.offset + this.chunkSize, this.file.size);
      const chunk = this.file.slice(this.offset, end);
      this.onStatus?.("uploading");
      const base = this.offset;
      const reply = await send("PATCH", this.url, this.headers({
        "Upload-Offset": String(this.offset), "Content-Type": "application/offset+octet-stream",
      }), chunk, (loaded) => this.onProgress?.(base + loaded, this.file.size));
      if (reply.status === 204) {
        this.failures = 0;
        this.offset = Number(reply.header("Upload-Offset"));
        this.memoId = reply.header("Memo-Id") || undefined;
        this.duplicateOf = reply.header("Memo-Duplicate-Of") || undefined; // sent before, on that date
        this.onProgress?.(this.offset, this.file.size);
        if (this.offset >= this.file.size) return true;
        continue;
      }
      if (reply.status === 0 || reply.status >= 500 || reply.status === 409) {
        await this.wait("The connection keeps failing.");
        return false;
      }
      if (reply.status === 404) return false;
      throw failure(reply);
    }
    return true;
  }
}

/** The server's sentence, with its status so a caller can tell a refusal from a bad moment. */
function failure(reply) {
  return Object.assign(new Error(errorText(reply)), { status: reply.status });
}

function errorText(reply) {
  try {
    return JSON.parse(reply.text).message || `HTTP ${reply.status}`;
  } catch {
    return `HTTP ${reply.status}`;
  }
}
