// The dashboard's sections as tabs: one block shown at a time, the address keeps the tab (#section-...) so a link
// or a reload opens the same one. Without this script every block shows, one under the other, and the tabs are
// anchors to them.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var tabs = Array.prototype.slice.call(document.querySelectorAll(".dash-tab"));
    var sections = Array.prototype.slice.call(document.querySelectorAll(".dash-section"));
    if (!tabs.length) { return; }
    document.documentElement.classList.add("dash-has-tabs");
    function show(key, focus) {
      var found = sections.some(function (s) { return s.id === "section-" + key; });
      if (!found) { key = tabs[0].dataset.section; }
      sections.forEach(function (s) { s.hidden = s.id !== "section-" + key; });
      tabs.forEach(function (t) {
        var on = t.dataset.section === key;
        t.setAttribute("aria-current", on ? "true" : "false");
        if (on && focus) { t.focus(); }
      });
    }
    tabs.forEach(function (tab) {
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        show(tab.dataset.section, false);
        history.replaceState(null, "", "#section-" + tab.dataset.section);
      });
    });
    // A link to a figure (#figure-x) opens the tab that holds it.
    function fromHash() {
      var hash = location.hash.slice(1);
      var target = hash && document.getElementById(hash);
      var section = target && target.closest(".dash-section");
      show(section ? section.id.replace("section-", "") : tabs[0].dataset.section, false);
      if (target && target !== section) { target.scrollIntoView(); }
    }
    window.addEventListener("hashchange", fromHash);
    fromHash();
  });
})();
