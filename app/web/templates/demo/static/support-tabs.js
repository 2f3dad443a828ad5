// The demo support page's tabs: a tiny single-page app. Each tab is a route of its own
// (history.pushState to ?tab=<name>), so the widget's tracking sees SPA navigations.
(function () {
  "use strict";
  var tabs = Array.prototype.slice.call(document.querySelectorAll('[role="tab"]'));
  if (!tabs.length) return;
  var base = document.title.replace(/: .*$/, "");

  function show(name) {
    tabs.forEach(function (tab) {
      var on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
    });
  }

  function current() {
    var name = new URLSearchParams(location.search).get("tab");
    return tabs.some(function (t) { return t.dataset.tab === name; }) ? name : tabs[0].dataset.tab;
  }

  tabs.forEach(function (tab) {
    tab.addEventListener("click", function () {
      var name = tab.dataset.tab;
      if (name === current()) return;
      show(name);
      history.pushState({ tab: name }, "", "?tab=" + encodeURIComponent(name));
      document.title = base + ": " + tab.textContent; // after the URL, as SPAs do
    });
  });
  window.addEventListener("popstate", function () {
    show(current());
  });
  show(current());
})();
