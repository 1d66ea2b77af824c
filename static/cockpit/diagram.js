// The plan diagram's zoom (docs/cockpit.md, "Plan diagram"). The diagram is an SVG with a
// viewBox: by default it fits the width of its box (static/cockpit/cockpit.css); "+" and
// "−" scale it from there by setting its width and height (attributes, not styles: the
// Content-Security-Policy allows no inline style), and its box scrolls. "Fit" goes back.
(function () {
  "use strict";
  var STEPS = [0.25, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3];

  function setUp(frame) {
    if (frame.getAttribute("data-zoom-ready")) return;
    frame.setAttribute("data-zoom-ready", "1");
    var svg = frame.querySelector("svg.plan-diagram");
    var tools = frame.querySelector(".diagram-zoom");
    var scroll = frame.querySelector(".cockpit-diagram-scroll");
    if (!svg || !tools || !scroll) return;
    var level = tools.querySelector(".diagram-zoom-level");
    var width = parseFloat(svg.getAttribute("width"));
    var height = parseFloat(svg.getAttribute("height"));
    var zoom = null; // null: fitted to the box

    function fitted() {
      var room = scroll.clientWidth;
      return room > 0 ? Math.min(1, room / width) : 1;
    }

    function show() {
      var scale = zoom === null ? 1 : zoom;
      frame.classList.toggle("zoomed", zoom !== null);
      svg.setAttribute("width", String(Math.round(width * scale)));
      svg.setAttribute("height", String(Math.round(height * scale)));
      var now = zoom === null ? fitted() : zoom;
      level.textContent = Math.round(now * 100) + " %" + (zoom === null ? " (fits the page)" : "");
      frame.setAttribute("data-zoom", zoom === null ? "fit" : String(zoom));
    }

    tools.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-zoom]");
      if (!button) return;
      var now = zoom === null ? fitted() : zoom;
      var how = button.getAttribute("data-zoom");
      if (how === "fit") {
        zoom = null;
      } else if (how === "in") {
        var bigger = STEPS.filter(function (s) { return s > now + 0.001; });
        zoom = bigger.length ? bigger[0] : STEPS[STEPS.length - 1];
      } else {
        var smaller = STEPS.filter(function (s) { return s < now - 0.001; });
        zoom = smaller.length ? smaller[smaller.length - 1] : now;
      }
      show();
    });
    window.addEventListener("resize", function () { if (zoom === null) show(); });
    var details = frame.closest("details");
    if (details) details.addEventListener("toggle", function () { if (zoom === null) show(); });
    tools.hidden = false;
    show();
  }

  function all() {
    document.querySelectorAll("[data-plan-diagram]").forEach(setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
