"""U3: the installable app — a web manifest and a service worker served from the site root (its
scope is the whole site), so the rep's shell and today's visit pages open without signal."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

# Bump to drop every cached page and file on the phones (the worker's install replaces the cache).
CACHE_VERSION = "salesops-v1"


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    data = {
        "name": "SalesOps",
        "short_name": "SalesOps",
        "description": _("医疗器械销售现场应用：线索、拜访、证据采集"),
        "lang": "zh-CN",
        "start_url": reverse("visits:workbench"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#175cd3",
        "icons": [
            {"src": static("pwa/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("pwa/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
        ],
    }
    response = HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    shell = [
        reverse("visits:workbench"),
        static("css/app.css"),
        static("visits/visits.css"),
        static("visits/capture.js"),
        static("pwa/register.js"),
        static("pwa/icon-192.png"),
    ]
    config = {
        "version": CACHE_VERSION,
        "shell": shell,
        "offlinePages": ["/visits/"],  # pages kept for offline use (the rep's shell and tasks)
        "loginPath": reverse("login"),
    }
    body = f"const CONFIG = {json.dumps(config)};\n" + SERVICE_WORKER
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"  # the browser checks for a new worker on every visit
    return response


SERVICE_WORKER = r"""
/* SalesOps service worker (U3). Pages under /visits/ are fetched from the network first and kept
   for offline use; static files are served from the cache. Uploads (POST) are never touched here:
   the capture page queues them in IndexedDB itself. Web Push (U4) shows the notification. */
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CONFIG.version).then((cache) => cache.addAll(CONFIG.shell)).catch(() => null).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((key) => key !== CONFIG.version).map((key) => caches.delete(key)))).then(() => self.clients.claim()));
});

function keepable(url) {
  return url.origin === self.location.origin && CONFIG.offlinePages.some((prefix) => url.pathname.startsWith(prefix));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") { return; }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request).then((response) => {
      if (response.ok) { const copy = response.clone(); caches.open(CONFIG.version).then((cache) => cache.put(request, copy)); }
      return response;
    })));
    return;
  }
  if (request.mode === "navigate" || request.headers.get("HX-Request")) {
    event.respondWith(fetch(request).then((response) => {
      if (response.ok && !response.redirected && keepable(url) && !request.headers.get("HX-Request")) {
        const copy = response.clone();
        caches.open(CONFIG.version).then((cache) => cache.put(request, copy));
      }
      return response;
    }).catch(() => caches.match(request, { ignoreSearch: false }).then((hit) => hit || caches.match(CONFIG.shell[0]))));
  }
});

// The workbench asks for today's task pages to be kept, so they open in a basement without signal.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "keep" && Array.isArray(data.urls)) {
    const urls = data.urls.filter((href) => keepable(new URL(href, self.location.origin)));
    event.waitUntil(caches.open(CONFIG.version).then((cache) => Promise.all(urls.map((href) => fetch(href, { credentials: "same-origin" }).then((response) => {
      if (response.ok && !response.redirected) { return cache.put(href, response); }
    }).catch(() => null)))));
  }
  if (data.type === "forget") {  // logout: nothing of this user stays on the phone
    event.waitUntil(caches.delete(CONFIG.version));
  }
});

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (error) { data = { title: event.data ? event.data.text() : "SalesOps" }; }
  event.waitUntil(self.registration.showNotification(data.title || "SalesOps", {
    body: data.body || "", data: { url: data.url || "/" }, tag: data.tag || undefined, requireInteraction: !!data.requireInteraction,
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window" }).then((windows) => {
    for (const client of windows) { if (client.url.endsWith(target) && "focus" in client) { return client.focus(); } }
    return self.clients.openWindow(target);
  }));
});
"""
