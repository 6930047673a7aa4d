"""What only a browser shows: each role logs in and out; htmx swaps in place."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "username, name",
    [("admin", "Mario Amministratore"), ("operatore1", "Marco Operatore"),
     ("000131", "Gelateria Bianchi di Bianchi Anna"), ("admin.alt", "Anna Alternativa")],
)
def test_each_role_logs_in_and_out(browser_login, live_server, username, name):
    page = browser_login(username)
    expect(page.locator("header")).to_contain_text(f"Benvenuto {name}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    if username == "000131":  # a consent request is pending: its modal opens first
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url(live_server.url + "/login")
    expect(page.get_by_role("status")).to_have_text("Sei uscito dal portale.")
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/login?next=/")


def test_wrong_password_is_refused_in_the_browser(page, live_server):
    page.goto(live_server.url + "/login")
    page.get_by_label("Nome utente").fill("admin")
    page.get_by_label("Password").fill("sbagliata")
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_role("alert")).to_have_text("Nome utente o password non corretti.")


def test_change_password_swaps_the_form_in_place(browser_login, live_server):
    page = browser_login("operatore1")
    page.get_by_role("navigation", name="Menu principale").get_by_role("link", name="Area personale").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cambio password")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Password attuale").fill("demo")
    page.get_by_label("Nuova password", exact=True).fill("corta")
    page.get_by_label("Ripeti la nuova password").fill("corta")
    page.get_by_role("button", name="Salva").click()
    expect(page.locator("#new_password-error")).to_have_text(
        "La password deve contenere almeno 12 caratteri.")
    page.get_by_label("Password attuale").fill("demo")
    page.get_by_label("Nuova password", exact=True).fill("nuova-password-sicura")
    page.get_by_label("Ripeti la nuova password").fill("nuova-password-sicura")
    page.get_by_role("button", name="Salva").click()
    expect(page.get_by_role("status")).to_have_text("Password modificata.")
    assert page.evaluate("window.__notReloaded") is True  # swapped by htmx, no page load


@pytest.mark.parametrize("path", [
    "/area-personale/consensi", "/area-personale/operatori",
    "/area-personale/accessi-smart", "/area-personale/registro-attivita",
])
def test_a_phone_wide_screen_never_scrolls_the_page_sideways(browser_login, live_server, path):
    page = browser_login("admin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # wide tables scroll inside their own box; the page itself stays as wide as the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_each_filter_label_stays_beside_its_field(browser_login, live_server):
    page = browser_login("admin")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/area-personale/accessi-smart")
    for label in ("Codice cliente", "Utente", "Esito", "Elem. pag."):
        text = page.locator("form.smart-search label", has_text=label).bounding_box()
        field = page.get_by_label(label, exact=True).bounding_box()
        # same line, field right after its label (before: "Esito" ended a line, its select began the next)
        assert field["y"] <= text["y"] + text["height"] / 2 <= field["y"] + field["height"], label
        assert 0 <= field["x"] - (text["x"] + text["width"]) < 20, label
