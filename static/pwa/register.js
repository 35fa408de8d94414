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

/* U4: the acknowledgement countdown (from the server's deadline) and turning on Web Push. */
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (node) {
      var left = Math.round((new Date(node.dataset.deadline).getTime() - Date.now()) / 1000);
      var abs = Math.abs(left);
      var text = Math.floor(abs / 60) + ":" + pad(abs % 60);
      node.textContent = (left >= 0 ? node.dataset.labelLeft + " " : node.dataset.labelOverdue + " +") + text;
      node.classList.toggle("overdue", left < 0);
    });
  }
  if (document.querySelector("[data-deadline]")) { tick(); }
  window.setInterval(tick, 1000);

  function keyBytes(base64) {
    var padded = (base64 + "===".slice((base64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }
  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  document.querySelectorAll("[data-push-subscribe]").forEach(function (button) {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) { return; }
    button.hidden = false;
    var status = document.querySelector(button.dataset.status || "#push-status");
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") { throw new Error(button.dataset.labelDenied); }
        return Promise.all([navigator.serviceWorker.ready, fetch(button.dataset.keyUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); })]);
      }).then(function (both) {
        return both[0].pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(both[1].publicKey) });
      }).then(function (subscription) {
        return fetch(button.dataset.saveUrl, {
          method: "POST", credentials: "same-origin", body: JSON.stringify(subscription.toJSON()),
          headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") }
        });
      }).then(function (response) {
        if (status) { status.textContent = response.ok ? button.dataset.labelOn : button.dataset.labelFailed; }
      }).catch(function (error) { if (status) { status.textContent = (error && error.message) || button.dataset.labelFailed; } });
    });
  });
})();
