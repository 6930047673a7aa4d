"""axe-core finds nothing serious or critical, on every page of every role, on a desktop
(1366 px) and on a phone (375 px), where no page is wider than the window either; and in
the states a person reaches: the pages as they open,
an empty grid, a sending's confirmation, the history dialog, the consent modal, forms
showing their errors. The pages come from the URL map (route_catalogue.py), so a page
added later is checked too.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from page_layout import too_wide
from playwright.sync_api import expect
from route_catalogue import all_routes, url_for_route, victim_objects
from smart_helpers import set_option7, set_switch

import models

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1366, "phone": 375}
ROLES = {
    "admin": "admin",
    "operatore1": "operator",
    "pink": "client",
    "000131": "client",  # a request waiting for an answer: the consent modal opens on the home
}
AXE = Axe()
# Rules enforced whatever impact axe gives them (the issue asks for these by name).
ALWAYS_ENFORCED = {"empty-table-header"}


def serious_violations(page, where="", context=None) -> list[str]:
    """What axe rates serious or critical on the page (or in ``context``), one line each."""
    results = AXE.run(page, context=context)
    assert results.response["passes"], "axe did not run"
    return [
        f"{where or page.url}: {violation['id']} ({violation['impact']}) {violation['help']}: "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:4])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical") or violation["id"] in ALWAYS_ENFORCED
    ]


def findings(page, where) -> list[str]:
    """What axe rates serious, and what is wider than the window."""
    return serious_violations(page, where) + [f"{where}: wider than the window: {element}" for element in too_wide(page)]


def is_page(response) -> bool:
    """A whole HTML page (not a download, not a region answered to htmx)."""
    return (response is not None and response.headers.get("content-type", "").startswith("text/html")
            and "<html" in response.text()[:200].lower())


def catalogued_urls(app, role) -> list[str]:
    """Every GET page of the route catalogue the role may open, with the demo's objects."""
    with app.app_context(), models.db.connection_context():
        objects = victim_objects()
    urls = []
    for route in all_routes(app):
        if "GET" not in route.methods or route.rule.endswith((".csv", ".xlsx")):
            continue
        if (role == "public") != route.is_public or not route.allows(role):
            continue
        urls.append(url_for_route(app, route, objects))
    return urls


def check_pages(page, origin, urls, width) -> list[str]:
    problems, checked = [], 0
    for url in urls:
        response = page.goto(origin + url)
        if not is_page(response):
            continue
        page.wait_for_load_state("networkidle")
        checked += 1
        problems += findings(page, f"{url} at {width}px")
    assert checked >= 1, urls
    return problems


@pytest.fixture
def studio_in_use(live_server):
    """Option 7 on and operatore1 with SMART access, so the SMART lists have rows."""
    with models.db.connection_context():
        set_option7(on=True)
        set_switch("operatore1", on=True)
    return live_server


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("username", sorted(ROLES))
def test_every_page_of_every_role_passes_axe(page, studio_in_use, browser_login, username, width):
    live_server = studio_in_use
    page.set_viewport_size({"width": width, "height": 900})
    browser_login(username)
    if ROLES[username] != "client":  # a line in the access log
        page.goto(live_server.url + "/servizi-smart")
        page.get_by_role("button", name="Accedi a Fattura SMART di PINK").click()
        page.wait_for_url("**/servizio-smart-simulato/**")
    urls = catalogued_urls(live_server.app, ROLES[username])
    assert "/" in urls
    problems = check_pages(page, live_server.url, urls, width)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_every_public_page_passes_axe(page, live_server, width):
    page.set_viewport_size({"width": width, "height": 900})
    urls = catalogued_urls(live_server.app, "public")
    assert "/login" in urls
    problems = check_pages(page, live_server.url, urls, width)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_consent_grid_passes_axe_in_every_state(page, live_server, browser_login, width):
    page.set_viewport_size({"width": width, "height": 900})
    browser_login("admin")
    grid = live_server.url + "/area-personale/consensi"
    problems = []

    page.goto(grid + "?codice=nessun-codice-simile")
    expect(page.get_by_text("Nessun cliente corrisponde ai filtri.")).to_be_visible()
    problems += findings(page, f"empty grid at {width}px")

    page.goto(grid + "?per_pagina=25")
    page.get_by_role("link", name="Invia a tutti").click()
    expect(page.get_by_role("heading", name="Conferma l'invio della richiesta di consenso")).to_be_visible()
    problems += findings(page, f"sending's confirmation at {width}px")
    page.get_by_role("button", name="Conferma l'invio").click()
    expect(page.get_by_role("status").filter(has_text="inviat")).to_be_visible()
    problems += findings(page, f"sending's outcome at {width}px")

    page.get_by_role("link", name="Storico di PINK").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    problems += findings(page, f"history dialog at {width}px")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_forms_showing_their_errors_pass_axe(page, live_server, browser_login, width):
    page.set_viewport_size({"width": width, "height": 900})
    problems = []

    page.goto(live_server.url + "/login")
    page.get_by_label("Nome utente").fill("admin")
    page.get_by_label("Password").fill("sbagliata")
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_role("alert")).to_be_visible()
    problems += findings(page, f"login refused at {width}px")

    browser_login("admin")
    page.goto(live_server.url + "/area-personale/operatori")
    new_operator = page.get_by_role("form", name="Nuovo operatore")
    new_operator.get_by_label("Nome utente").fill("operatore1")  # taken
    new_operator.get_by_label("Nome e cognome").fill("Nuovo Operatore")
    new_operator.get_by_label("E-mail").fill("nuovo@studio.example")
    new_operator.get_by_role("button", name="Crea operatore").click()
    expect(page.locator(".field-error")).to_be_visible()
    problems += findings(page, f"new operator refused at {width}px")

    page.goto(live_server.url + "/area-personale/cambio-password")
    page.get_by_label("Password attuale").fill("demo")
    page.get_by_label("Nuova password", exact=True).fill("corta")
    page.get_by_label("Ripeti la nuova password").fill("corta")
    page.get_by_role("button", name="Salva").click()
    expect(page.locator("#new_password-error")).to_be_visible()
    problems += findings(page, f"password refused at {width}px")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_consent_modal_showing_its_error_passes_axe(page, live_server, browser_login, width):
    page.set_viewport_size({"width": width, "height": 900})
    browser_login("000131")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Conferma").click()
    expect(page.get_by_role("alert")).to_be_visible()
    problems = findings(page, f"consent modal at {width}px")
    assert not problems, "\n".join(problems)


# The contrast of an element's text with the first opaque background behind it (WCAG).
TEXT_CONTRAST = """(element) => {
  const rgb = (color) => color.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (value) => { value /= 255; return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  let background = [255, 255, 255];
  for (let e = element; e; e = e.parentElement) {
    const parts = rgb(getComputedStyle(e).backgroundColor);
    if (parts.length === 3 || parts[3] === 1) { background = parts.slice(0, 3); break; }
  }
  const [light, dark] = [luminance(rgb(getComputedStyle(element).color)), luminance(background)].sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}"""


@pytest.mark.parametrize("path", ["/area-personale/consensi", "/servizi-smart", "/area-personale/operatori"])
def test_back_links_look_like_links_and_reach_the_contrast(page, live_server, browser_login, path):
    browser_login("admin")
    page.goto(live_server.url + path)
    if path == "/area-personale/operatori":  # a page of the Area personale: its menu's "← Area personale"
        back = page.get_by_role("link", name="← Area personale")
    else:
        back = page.get_by_role("heading", level=1).get_by_role("link")
    expect(back).to_be_visible()
    assert back.evaluate("element => getComputedStyle(element).textDecorationLine") == "underline"
    assert back.evaluate(TEXT_CONTRAST) >= 4.5
