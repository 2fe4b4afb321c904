// Sentinel TVM console: reload the page's data in place every few seconds,
// unless the user is busy in a form (typing, or focus on a control).
"use strict";
(function () {
  var seconds = parseInt(document.body.getAttribute("data-refresh"), 10) || 15;
  function busy() {
    var a = document.activeElement;
    if (a && a.closest && a.closest("form")) return true;
    var fields = document.querySelectorAll("main textarea, main input:not([type=hidden]):not([type=checkbox])");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) return true;
    }
    return false;
  }
  function refresh() {
    if (document.hidden || busy()) { schedule(); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main"), old = document.getElementById("main");
        if (fresh && old && !busy()) old.innerHTML = fresh.innerHTML;
      })
      .catch(function (e) {
        var p = document.getElementById("refreshed");
        if (p) p.textContent = "Refresh failed (" + e.message + "); retrying.";
      })
      .then(schedule);
  }
  function schedule() { window.setTimeout(refresh, seconds * 1000); }
  schedule();
})();
