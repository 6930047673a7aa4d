"""The administrator's main flow with the keyboard alone, on a desktop and on a phone:
log in, reach the consent page through the menus, tick a client, send him the request,
confirm, read the outcome; then open a client's history and close it with Esc. Only Tab,
Shift+Tab, Space, Enter and Esc are pressed: no click, no programmatic focus.
"""

import pytest
from conftest import DEMO_PASSWORD
from playwright.sync_api import expect
from smart_helpers import client

import models

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1366, "phone": 375}
MAX_TABS = 80


def has_focus(locator) -> bool:
    return locator.count() == 1 and locator.evaluate("element => element === document.activeElement")


def tab_to(page, locator):
    """Press Tab until ``locator`` has the focus (a person tabbing through the page)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if has_focus(locator):
            return
    raise AssertionError(f"Tab never reached {locator}")


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_sending_a_request_with_the_keyboard_alone(page, live_server, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + "/login")
    tab_to(page, page.get_by_label("Nome utente"))
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")

    tab_to(page, page.get_by_role("navigation", name="Menu principale").get_by_role("link", name="Area personale"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    menu = page.get_by_role("navigation", name="Area personale")
    if width == WIDTHS["phone"]:  # the menu is folded behind its button
        tab_to(page, menu.get_by_role("button", name="Menu dell'Area personale"))
        page.keyboard.press("Enter")
    tab_to(page, menu.get_by_role("link", name="Configurazioni Varie"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Configurazioni varie")
    tab_to(page, page.get_by_role("link", name="Clicca qui per gestire l'invio delle richieste di consenso ai tuoi clienti."))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Gestione invio richieste di consenso")

    # tick one client who was never asked (Space), and send to the selection (Enter)
    tick = page.get_by_role("checkbox", name="Seleziona 000120")
    tab_to(page, tick)
    page.keyboard.press("Space")
    expect(page.get_by_text("1 cliente selezionato")).to_be_visible()
    expect(tick).to_be_checked()
    assert has_focus(page.get_by_role("checkbox", name="Seleziona 000120")), "focus lost after the tick"
    for _ in range(MAX_TABS):  # the "Invia" buttons sit above the grid: back up with Shift+Tab
        page.keyboard.press("Shift+Tab")
        if has_focus(page.get_by_role("link", name="Invia ai selezionati (1)")):
            break
    else:
        raise AssertionError("Shift+Tab never reached «Invia ai selezionati (1)»")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Conferma l'invio della richiesta di consenso")).to_be_focused()
    tab_to(page, page.get_by_role("button", name="Conferma l'invio a 1 cliente"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="inviat")).to_be_visible()
    with models.db.connection_context():
        assert client("000120").consent_requested_at is not None

    # the client's history opens from the keyboard and Esc closes it
    storico = page.get_by_role("link", name="Storico di 000120")
    tab_to(page, storico)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(storico).to_be_focused()
