// Time zone fields (forms.TimeZoneInput): offer the browser's own IANA zone.
// A field still holding the default (UTC, or empty) gets the browser's zone filled in, unless it shows
// a saved choice (data-keep-default: preferences), which is never changed silently: a button offers the
// browser's zone instead. Without JavaScript the field stays a text input with a searchable list.
(function () {
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  function after(input, element) {
    (input.parentNode.querySelector("small.help") || input).insertAdjacentElement("afterend", element);
  }
  function offer(input, zone) {
    if (!zone || input.value === zone) return;
    if ((!input.value || input.value === "UTC") && !input.hasAttribute("data-keep-default")) {
      input.value = zone;
      var hint = document.createElement("small");
      hint.className = "help browser-zone";
      hint.textContent = "Filled in from this browser's time zone.";
      after(input, hint);
      return;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "ghost small browser-zone";
    button.textContent = "Use " + zone + " (this browser)";
    button.addEventListener("click", function () { input.value = zone; button.remove(); });
    after(input, button);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var zone = browserZone();
    document.querySelectorAll("input[data-browser-zone]").forEach(function (input) { offer(input, zone); });
  });
})();
