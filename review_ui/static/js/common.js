// What every page shares: the CSRF token, translated strings, JSON requests to the API,
// a status toast, sign-out and self-submitting selects.

const strings = JSON.parse(document.getElementById("i18n")?.textContent || "{}");
// The server says where its API lives (base.html), so no script spells the address out.
const apiBase = document.querySelector('meta[name="api-base"]')?.content ?? "";

/** "/drafts/7" -> the API's address for it. */
export function api(path) {
  return apiBase + path;
}

export function t(key, values = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

/** A request to the API with the session cookie and CSRF header. Never throws for HTTP
 *  errors: returns {ok, status, data, headers, message}; a network failure gives status 0. */
export async function request(method, url, { json, body, headers = {}, keepalive = false } = {}) {
  const init = { method, credentials: "same-origin", keepalive, headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    return { ok: false, status: 0, data: null, headers: new Headers(), message: t("error.network") };
  }
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) data = await response.json().catch(() => null);
  else data = await response.text().catch(() => null);
  const message = response.ok ? "" : (data && data.message) || t("error.http", { status: response.status });
  return { ok: response.ok, status: response.status, data, headers: response.headers, message };
}

let toastTimer = null;
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 8000 : 3500);
}

/** 75.4 -> "1:15"; the desk's way of writing time. */
export function clock(seconds) {
  if (!Number.isFinite(seconds)) return "–:––";
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? `${h}:` : "") + `${mm}:${String(s).padStart(2, "0")}`;
}

export function pageData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/** <time datetime="…Z" data-local> in the reader's own time zone and language; the server
 *  wrote UTC, which stays in the title. */
export function localizeTimes(root = document) {
  // The page's language, in the browser's own variant of it (en-GB writes 14:30, not 2:30 PM).
  const lang = document.documentElement.lang || "en";
  const own = navigator.language || "";
  const format = new Intl.DateTimeFormat(own.split("-")[0] === lang ? own : lang, {
    dateStyle: "medium", timeStyle: "short",
  });
  for (const node of root.querySelectorAll("time[data-local][datetime]")) {
    const when = new Date(node.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    if (!node.title) node.title = node.textContent.trim();
    node.textContent = format.format(when);
  }
}

localizeTimes();

document.getElementById("sign-out")?.addEventListener("click", async () => {
  await request("DELETE", api("/session"));
  // The phone's offline shell (review_ui/offline.py) shows who was signed in: not for the next person.
  for (const name of (await globalThis.caches?.keys().catch(() => [])) || []) {
    if (name.startsWith("phone-shell-")) await caches.delete(name);
  }
  window.location.assign("/login");
});

for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}
