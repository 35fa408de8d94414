/* U3: register the service worker (served from the site root, scope "/"), keep today's task
   pages for offline use, and forget them on logout. Loaded with the page's CSP nonce. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) { return; }
  var script = document.currentScript;
  var url = (script && script.dataset.worker) || "/sw.js";
  navigator.serviceWorker.register(url, { scope: "/" }).then(function (registration) {
    var keep = Array.prototype.map.call(document.querySelectorAll("a[data-offline]"), function (link) { return link.href; });
    if (!keep.length) { return; }
    navigator.serviceWorker.ready.then(function (ready) { if (ready.active) { ready.active.postMessage({ type: "keep", urls: keep }); } });
  }).catch(function () {});
  document.addEventListener("submit", function (event) {
    var action = event.target.getAttribute && event.target.getAttribute("action") || "";
    if (action.indexOf("/accounts/logout/") >= 0 && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "forget" });
      if (window.indexedDB) { try { indexedDB.deleteDatabase("salesops-capture"); } catch (e) {} }
    }
  }, true);
})();
