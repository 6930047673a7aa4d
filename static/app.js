// Portale dello Studio — the little behaviour htmx does not cover.
// Loaded as a file (never inline) so the pages run under a strict CSP.
"use strict";

// --- Configurazioni varie and the SMART banner (engineer "settings") ---------
// An option whose save failed must not look saved: put the checkbox back and say so.
(function () {
  const NOT_SAVED = "Non salvato: riprova tra poco.";

  function markNotSaved(form) {
    const checkbox = form.querySelector("input[type=checkbox]");
    if (checkbox) checkbox.checked = !checkbox.checked;
    const status = form.querySelector(".option-status");
    if (status) {
      status.textContent = NOT_SAVED;
      status.classList.add("option-status-error");
    }
  }

  function onFailure(event) {
    const source = event.target;
    if (!(source instanceof Element)) return;
    if (source.matches(".option-switch")) {
      markNotSaved(source);
    } else if (event.type === "htmx:error" && source.matches(".option-link")) {
      markNotSaved(source);
    }
  }

  document.addEventListener("htmx:response:error", onFailure);
  document.addEventListener("htmx:error", onFailure);

  // The banner's buttons remove the banner: keep keyboard focus on the page, not lost.
  document.addEventListener("htmx:before:request", function (event) {
    const source = event.target;
    if (source instanceof Element && source.closest("#smart-banner")) {
      const heading = document.querySelector("main h1");
      if (heading) heading.setAttribute("tabindex", "-1");
    }
  });
  document.addEventListener("htmx:after:swap", function () {
    const heading = document.querySelector("main h1[tabindex='-1']");
    if (heading && !document.getElementById("smart-banner") &&
        (document.activeElement === document.body || document.activeElement === null)) {
      heading.focus();
    }
  });
})();
