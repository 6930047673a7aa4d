// Playwright init script for test_browser_csp.py: it runs before any script of the
// page and collects every Content-Security-Policy violation the browser reports.
(() => {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(
      `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} ` +
      `at ${event.sourceFile || document.location.href}:${event.lineNumber}`
    );
  });
})();
