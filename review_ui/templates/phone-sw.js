// The phone page's service worker (served by review_ui/offline.py, registered with scope /phone).
// It lets /phone open without a network: the page itself comes from the network first, and
// from the kept shell only when the network fails. It keeps the shell and the versioned
// scripts and style sheet, nothing else: API answers and other pages are never touched, so
// no memo and no other person's data is ever kept here.
const CACHE = {{ cache | tojson }};
const CACHE_PREFIX = {{ cache_prefix | tojson }};
const SHELL = {{ shell | tojson }};
const SCOPE = {{ scope | tojson }};
const ASSETS = new Set({{ assets | tojson }});

async function keepShell() {
  // The shell needs the session: a signed-out answer (a redirect to the sign-in page) is not kept.
  const answer = await fetch(SHELL, { credentials: "same-origin", redirect: "manual" });
  const cache = await caches.open(CACHE);
  if (answer.ok && answer.type === "basic") await cache.put(SHELL, answer);
  else await cache.delete(SHELL);
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll([...ASSETS]);
    await keepShell().catch(() => {});
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
    }
    // No clients.claim(): an open page keeps the worker it started with until it is reloaded.
  })());
});

async function phonePage(event) {
  try {
    const answer = await fetch(event.request);
    // Online: refresh the kept shell (the language or the person may have changed); a
    // redirect means signed out, and keepShell then drops it.
    event.waitUntil(keepShell().catch(() => {}));
    return answer;
  } catch (err) {
    const kept = await caches.match(SHELL, { cacheName: CACHE });
    return kept || Response.error();
  }
}

async function asset(request) {
  const kept = await caches.match(request, { cacheName: CACHE });
  return kept || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && (url.pathname === SCOPE || url.pathname === `${SCOPE}/`)) {
    event.respondWith(phonePage(event));
  } else if (ASSETS.has(url.pathname + url.search)) {
    event.respondWith(asset(request));
  }
  // Anything else (the API, uploads, sign-off pages) goes to the network as if no worker were here.
});
