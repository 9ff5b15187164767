/* Daylight's few enhancements. Every page reads and works without them. */
(function () {
  "use strict";

  // The queue's bulk bar says how many rows are selected, and a header box selects them all.
  function updateSelection(form) {
    var boxes = document.querySelectorAll('input[type="checkbox"][name="asset"][form="' + form.id + '"]');
    var chosen = Array.prototype.filter.call(boxes, function (box) { return box.checked; }).length;
    var label = form.querySelector("[data-selected-count]");
    if (label) { label.textContent = chosen === 1 ? "1 selected" : chosen + " selected"; }
    form.querySelectorAll('button[name="action"]').forEach(function (button) { button.disabled = chosen === 0; });
    var all = document.querySelector('[data-select-all="' + form.id + '"]');
    if (all) {
      all.checked = chosen > 0 && chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
    }
  }

  function setUp() {
    document.querySelectorAll("form.bulk-bar").forEach(function (form) {
      var all = document.querySelector('[data-select-all="' + form.id + '"]');
      if (all) {
        all.hidden = false;
        all.addEventListener("change", function () {
          document.querySelectorAll('input[type="checkbox"][name="asset"][form="' + form.id + '"]')
            .forEach(function (box) { box.checked = all.checked; });
          updateSelection(form);
        });
      }
      document.addEventListener("change", function (event) {
        if (event.target.matches && event.target.matches('input[name="asset"][form="' + form.id + '"]')) {
          updateSelection(form);
        }
      });
      updateSelection(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
  // Rows decided in place leave the selection.
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("form.bulk-bar").forEach(updateSelection);
  });
})();
