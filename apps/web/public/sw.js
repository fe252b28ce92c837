// Offline once loaded: the page's own files (same origin, plain GETs) are kept in a cache and
// served from it when the network is gone. Checkpoints are never cached: picked files never touch
// the network, and remote ones are read with Range requests, which pass straight through.
const CACHE = "pt-web-v1";
self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(["./", "./index.html"])));
  self.skipWaiting();
});
self.addEventListener("activate", (ev) => {
  ev.waitUntil(self.clients.claim());
});
self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin || req.headers.has("range")) return;
  if (!/\/(index\.html)?$|\.(js|css|svg|png|json|webmanifest)$/.test(url.pathname)) return;
  const key = url.pathname.endsWith("/") ? new Request(url.origin + url.pathname) : req;
  ev.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(key, copy));
        }
        return res;
      })
      .catch(() => caches.match(key).then((hit) => hit || caches.match("./index.html"))),
  );
});
