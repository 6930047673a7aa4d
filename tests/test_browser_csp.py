"""Every page of every role, in Chromium, under the strict CSP: no violation, no console error.

The crawl starts from the home page and every GET route of the URL map the role may
open, and follows the links it finds, so a page added later is visited too.
"""

import os
from urllib.parse import urldefrag, urlparse

import pytest
from playwright.sync_api import Error as PlaywrightError
from route_catalogue import all_routes, url_for_route, victim_objects

import models

pytestmark = pytest.mark.browser

LISTENER = os.path.join(os.path.dirname(__file__), "csp_listener.js")
MAX_PAGES = 60
MAX_VARIANTS_PER_PATH = 3  # the same page with other query strings (sorting, paging)

ROLES = {
    "admin": "admin",
    "operatore1": "operator",
    "operatore2": "operator",
    "pink": "client",
    "000131": "client",  # a request waiting for an answer: the consent modal opens
    "admin.alt": "admin",
}


# Users of another studio than the victim objects': for them, a URL naming one of
# those objects is rightly a 404 (proven by the isolation tests), not a page to crawl.
OTHER_STUDIO_USERS = {"admin.alt"}


def starting_urls(app, role, username=None):
    with app.app_context(), models.db.connection_context():
        objects = victim_objects()
    urls = ["/"]
    for route in all_routes(app):
        if route.arguments and username in OTHER_STUDIO_USERS:
            continue
        if "GET" in route.methods and not route.is_public and route.allows(role):
            urls.append(url_for_route(app, route, objects))
    return urls


@pytest.mark.parametrize("username", sorted(ROLES))
def test_every_page_runs_under_the_csp_without_errors(page, live_server, browser_login, username):
    problems = []

    def on_console(msg):
        if msg.type != "error":
            return
        if msg.text.startswith("Failed to load resource") and msg.location.get("url") == page.url:
            return  # the page itself answered 4xx: judged below by where its URL came from
        problems.append(f"console error on {page.url}: {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error on {page.url}: {error}"))
    page.context.add_init_script(path=LISTENER)
    browser_login(username)

    origin = live_server.url
    queue = [origin + url for url in starting_urls(live_server.app, ROLES[username], username)]
    linked = set()  # URLs found as links on pages: a 4xx there is a dead link
    seen, variants = set(), {}
    while queue and len(seen) < MAX_PAGES:
        url = urldefrag(queue.pop(0))[0]
        parsed = urlparse(url)
        if url in seen or not url.startswith(origin) or parsed.path in ("/logout", "/login"):
            continue
        if parsed.path.startswith("/static/"):
            continue
        variants[parsed.path] = variants.get(parsed.path, 0) + 1
        if variants[parsed.path] > MAX_VARIANTS_PER_PATH:
            continue
        seen.add(url)
        try:
            response = page.goto(url)
        except PlaywrightError as error:
            if "Download is starting" in str(error):
                continue  # a file to download (the CSV register), not a page
            raise
        page.wait_for_load_state("networkidle")
        if response is not None and response.status >= 500:
            problems.append(f"{url} answered {response.status}")
        if response is not None and response.status >= 400 and url in linked:
            problems.append(f"dead link: {url} answered {response.status}")
        violations = page.evaluate("window.__cspViolations || []")
        problems.extend(f"CSP violation on {url}: {v}" for v in violations)
        assert page.evaluate("Array.isArray(window.__cspViolations)"), "listener not installed"
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        linked.update(urldefrag(link)[0] for link in links)
        queue.extend(links)
    assert len(seen) >= 3, seen
    assert problems == []
