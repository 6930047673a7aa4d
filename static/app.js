// Portale dello Studio — the little behaviour htmx does not cover.
// Loaded as a file (never inline) so the pages run under a strict CSP.
"use strict";
