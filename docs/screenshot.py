"""Take the README's screenshots from a running portal (default http://127.0.0.1:8000).

Usage: .venv/bin/python docs/screenshot.py [BASE_URL]
"""

import sys

from playwright.sync_api import sync_playwright

sys.path[:0] = [".", "tests"]  # conftest imports its neighbours (smtp_sink, ...) by name
from conftest import chromium_executable  # noqa: E402

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
DESKTOP, PHONE = {"width": 1280, "height": 760}, {"width": 375, "height": 760}
SHOTS = [
    ("admin", "/", DESKTOP, "docs/screenshot-admin-home.png"),
    ("admin", "/area-personale/consensi", DESKTOP, "docs/screenshot-consent-grid.png"),
    ("admin", "/area-personale/consensi", PHONE, "docs/screenshot-consent-phone.png"),
    ("000131", "/", DESKTOP, "docs/screenshot-client-modal.png"),  # a request waits: the modal opens
]


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_executable(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for username, path, viewport, output in SHOTS:
            page = browser.new_page(viewport=viewport, locale="it-IT")
            page.goto(BASE + "/login")
            page.get_by_label("Nome utente").fill(username)
            page.get_by_label("Password").fill("demo")
            page.get_by_role("button", name="Accedi").click()
            page.wait_for_url(BASE + "/")
            if path != "/":
                page.goto(BASE + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=output, full_page=False)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
