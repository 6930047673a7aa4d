// Portale dello Studio — the little behaviour htmx does not cover.
// Loaded as a file (never inline) so the pages run under a strict CSP.
"use strict";

// --- Configurazioni varie ---------
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

})();

// --- Consent modal (SPEC 3.4) -----------------------------------
// The server renders <dialog data-consent-modal> on the client's home while a request
// waits for an answer. We open it as a real modal (focus moves in and stays in), treat
// Esc as "Annulla" (posted like the button), close it when the server answers with the
// "consentModalClose" trigger, and give focus back to where it was.
(function () {
  function setUpConsentModal() {
    var dialog = document.querySelector("dialog[data-consent-modal]");
    if (!dialog || dialog.open) return;
    var opener = document.activeElement;
    var dismissForm = dialog.querySelector("#consent-dismiss-form");

    function dismiss() {
      if (dialog.dataset.dismissing) return;
      dialog.dataset.dismissing = "true";
      dismissForm.requestSubmit();
    }

    dialog.addEventListener("cancel", function (event) {
      // Esc = "Annulla". If the browser will not let us keep it open, "close" posts it.
      event.preventDefault();
      dismiss();
    });
    dialog.addEventListener("close", function () {
      if (!dialog.dataset.settled) dismiss();
      // Give focus back to what had it; opened at page load, that is the page itself,
      // so its heading takes it (never left on a button of the closed dialog).
      if (opener && opener !== document.body && opener.isConnected) {
        opener.focus();
      } else {
        var heading = document.querySelector("main h1");
        if (heading) {
          heading.setAttribute("tabindex", "-1");
          heading.focus();
        }
      }
    });
    document.addEventListener("consentModalClose", function () {
      dialog.dataset.settled = "true";
      if (dialog.open) dialog.close();
    });
    dialog.addEventListener("keydown", function (event) {
      // Tab wraps around inside the modal instead of leaving it for the browser's toolbar.
      if (event.key !== "Tab") return;
      var stops = tabStops(dialog);
      if (!stops.length) return;
      var first = stops[0];
      var last = stops[stops.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });
    dialog.showModal();
  }

  // The elements Tab stops on, in order: one per radio group (the checked one, else the first).
  function tabStops(container) {
    var seenGroups = {};
    var candidates = container.querySelectorAll(
      "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select, textarea");
    return Array.prototype.filter.call(candidates, function (element) {
      if (element.closest("[hidden], [inert]")) return false;
      if (element.type !== "radio") return true;
      if (seenGroups[element.name]) return false;
      var checked = element.form && element.form.querySelector(
        "input[type=radio][name='" + element.name + "']:checked");
      if (checked && checked !== element) return false;
      seenGroups[element.name] = true;
      return true;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpConsentModal);
  } else {
    setUpConsentModal();
  }
})();

// --- Consent history dialog ----------------------------------------
// "Storico" swaps a client's history into the dialog; it opens as a modal, Esc or
// Chiudi closes it and the browser returns focus to the "Storico" that opened it.
(function () {
  document.addEventListener("htmx:after:swap", function () {
    const dialog = document.getElementById("consent-history-dialog");
    const title = document.getElementById("consent-history-title");
    if (!dialog || !title || !dialog.contains(title)) return;
    if (!dialog.open) dialog.showModal();
    title.focus();
  });
  document.addEventListener("click", function (event) {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const dialog = target.closest("dialog");
    if (target.matches("[data-close-dialog]") && dialog) dialog.close();
    else if (target === document.getElementById("consent-history-dialog")) target.close();  // backdrop
  });
  document.addEventListener("close", function (event) {
    if (event.target && event.target.id === "consent-history-dialog") {
      const content = document.getElementById("consent-history");
      if (content) content.replaceChildren();
    }
  }, true);
})();

// --- SMART hand-off ------------------------------------------------
// "Accedi" answers with a form posting the one-time token to the service (never in a
// URL): submit it as soon as it is on the page, as a full page or swapped into #messages.
(function () {
  function submitHandOff() {
    const form = document.querySelector("form[data-auto-submit]");
    if (!form) return;
    form.removeAttribute("data-auto-submit");  // once
    form.submit();
  }
  document.addEventListener("htmx:after:swap", submitHandOff);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", submitHandOff);
  } else {
    submitHandOff();
  }
})();

// --- Side menu on a phone ------------------------------------------
// Up to 760 px wide the Area personale's menu folds behind its "Menu" button (the CSS hides
// the list only once this script has made the button work, so without it the menu stays open).
(function () {
  function setUpFoldingMenus() {
    document.querySelectorAll(".side-menu-toggle").forEach(function (button) {
      const menu = button.closest(".side-menu");
      if (!menu || menu.classList.contains("is-folding")) return;
      menu.classList.add("is-folding");
      button.addEventListener("click", function () {
        button.setAttribute("aria-expanded", button.getAttribute("aria-expanded") === "true" ? "false" : "true");
      });
    });
  }
  document.addEventListener("htmx:after:swap", setUpFoldingMenus);  // a menu arriving in a swap
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpFoldingMenus);
  } else {
    setUpFoldingMenus();
  }
})();
