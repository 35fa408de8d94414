/* 今日战报: keep the last data when the server is unreachable and say how old it is.
   Loaded as a static file with the CSP nonce; no inline handlers (the CSP forbids them). */
(function () {
  "use strict";
  var lastSuccess = Date.now();
  var failing = false;

  function ageLabel() {
    var el = document.getElementById("board-age");
    if (!el) return;
    var seconds = Math.max(0, Math.round((Date.now() - lastSuccess) / 1000));
    var text = (el.dataset.template || "{n}").replace("{n}", String(seconds));
    if (failing) text = (el.dataset.offline || "") + " · " + text;
    el.textContent = text;
    el.classList.toggle("stale", failing);
    el.dataset.ageSeconds = String(seconds);
  }

  function isZone(evt) {
    var target = evt.detail && (evt.detail.target || evt.detail.elt);
    return !!(target && target.classList && target.classList.contains("zone"));
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (!isZone(evt)) return;
    var xhr = evt.detail.xhr;
    if (!xhr || xhr.status !== 200) {
      // An error page must never replace the last good data on the wall.
      evt.detail.shouldSwap = false;
      return;
    }
    // Unchanged data: keep the DOM (and the ticker's running animation) as it is.
    var current = evt.detail.target.querySelector("[data-fingerprint]");
    var match = /data-fingerprint="([^"]*)"/.exec(xhr.responseText || "");
    if (current && match && current.getAttribute("data-fingerprint") === match[1]) {
      evt.detail.shouldSwap = false;
    }
  });

  // The header date follows the server's day (a board left on overnight shows the new day).
  function headerDate(html) {
    var match = /data-date="([^"]*)"/.exec(html || "");
    var el = document.getElementById("board-date");
    if (match && el && el.textContent !== match[1]) el.textContent = match[1];
  }

  document.addEventListener("htmx:afterRequest", function (evt) {
    if (!isZone(evt)) return;
    if (evt.detail.successful) {
      headerDate(evt.detail.xhr && evt.detail.xhr.responseText);
      lastSuccess = Date.now();
      failing = false;
    } else {
      failing = true;
    }
    ageLabel();
  });

  ["htmx:sendError", "htmx:responseError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (evt) {
      if (!isZone(evt)) return;
      failing = true;
      ageLabel();
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    lastSuccess = Date.now();
    ageLabel();
    window.setInterval(ageLabel, 1000);
  });
})();
