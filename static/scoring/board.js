/* 协作看板 (D11): one drill-down endpoint for every heat-map cell. A cell carries no URL; its keys
   come from the table (customer), its row (rep or weekday) and its column header (behaviour or
   hour), so the page stays small. Loaded with the CSP nonce; no inline handlers. */
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var cell = evt.target.closest ? evt.target.closest("table.heat[data-drill] td") : null;
    if (!cell || !cell.className) return; // blank cells have nothing behind them
    var table = cell.closest("table");
    var row = cell.parentElement;
    var header = table.tHead.rows[0].cells[cell.cellIndex];
    var url = table.dataset.drill;
    if (row.dataset.rep) url += "&rep=" + encodeURIComponent(row.dataset.rep);
    if (row.dataset.weekday) url += "&weekday=" + encodeURIComponent(row.dataset.weekday);
    if (header && header.dataset.k) url += "&" + header.dataset.k + "=" + encodeURIComponent(header.dataset.v);
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: "#" + table.dataset.target, swap: "innerHTML" });
    } else {
      window.location.href = url;
    }
  });
})();
