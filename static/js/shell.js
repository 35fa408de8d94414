/* The app shell (U1): close the "更多" sheet on outside tap / Escape, and tick countdowns
   (<time class="countdown" datetime="…">) every second. No build step, no dependencies. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var more = document.getElementById("more");
    if (more && more.open && !more.contains(event.target)) more.open = false;
  });
  document.addEventListener("keydown", function (event) {
    var more = document.getElementById("more");
    if (event.key === "Escape" && more) more.open = false;
  });
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var nodes = document.querySelectorAll("time.countdown[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var left = Math.round((Date.parse(node.getAttribute("datetime")) - Date.now()) / 1000);
      if (isNaN(left)) continue;
      var over = left < 0;
      left = Math.abs(left);
      var text = (left >= 3600 ? Math.floor(left / 3600) + ":" + pad(Math.floor(left % 3600 / 60)) : Math.floor(left / 60)) + ":" + pad(left % 60);
      node.textContent = (over ? node.dataset.overLabel || "已超时 " : node.dataset.leftLabel || "还剩 ") + text;
      node.classList.toggle("over", over);
    }
  }
  tick();
  setInterval(tick, 1000);
})();
