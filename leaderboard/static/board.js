// Sortable tables: click a header to sort by that column; ?sort=<key>&dir=asc|desc sorts on load.
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (raw === "") { return null; }
    var num = Number(raw);
    return isNaN(num) ? raw.toLowerCase() : num;
  }
  function sortTable(table, index, dir) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      if (x === y) { return 0; }
      if (x === null) { return 1; }   // empty cells last, whatever the direction
      if (y === null) { return -1; }
      var c = x < y ? -1 : 1;
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      if (i === index) { th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    table.setAttribute("data-sorted-by", table.tHead.rows[0].cells[index].getAttribute("data-key") || String(index));
    table.setAttribute("data-sort-dir", dir);
  }
  function setup(table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, i) {
      th.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var dir = current === "descending" ? "asc" : (current === "ascending" ? "desc" : (th.getAttribute("data-default-dir") || "desc"));
        sortTable(table, i, dir);
      });
    });
    var params = new URLSearchParams(window.location.search);
    var key = params.get("sort");
    if (key) {
      var index = -1;
      Array.prototype.forEach.call(headers, function (th, i) { if (th.getAttribute("data-key") === key) { index = i; } });
      if (index >= 0) { sortTable(table, index, params.get("dir") === "asc" ? "asc" : "desc"); }
    }
    table.setAttribute("data-ready", "true");
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), setup);
  });
}());
