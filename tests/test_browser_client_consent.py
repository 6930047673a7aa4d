"""What only a browser shows of the client's consent: the modal's focus, Esc, in-place answers,
the Altri Dati flag saved in place, keyboard-only use, and an axe-core accessibility check."""

import os

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

import consent
import models
from models import Client, User

pytestmark = pytest.mark.browser

MODAL_TITLE = "Conferma del consenso affinché il tuo Commercialista possa accedere ai Servizi SMART"
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def send_request(live_server, code):
    """A fresh request to client ``code`` of BPF103, through the admin's sending module."""
    with models.db.connection_context():
        client = Client.get(Client.code == code)
        admin = User.get(User.username == "admin")
        assert consent.send_requests(client.studio_id, admin, only=[client.id]).sent == 1


def answer_state(code):
    with models.db.connection_context():
        client = Client.get(Client.code == code)
        return client.consent_answer


def consent_dialog(page):
    return page.get_by_role("dialog", name=MODAL_TITLE)


def log_out(page, live_server):
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url(live_server.url + "/login")


def test_modal_refuses_conferma_without_choice_and_comes_back_after_annulla_and_esc(
        browser_login, live_server):
    send_request(live_server, "000145")  # declined before; asked again
    page = browser_login("000145")
    dialog = consent_dialog(page)
    expect(dialog).to_be_visible()
    assert page.evaluate("document.querySelector('dialog').matches(':modal')")
    assert page.evaluate("document.querySelector('dialog').contains(document.activeElement)")
    shot(page, "modal-open")

    page.evaluate("window.__notReloaded = true")
    dialog.get_by_role("button", name="Conferma").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Per confermare seleziona un'opzione: «Si, acconsento» oppure «No, non acconsento».")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.querySelector('dialog').contains(document.activeElement)")
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "modal-choice-missing")

    dialog.get_by_role("button", name="Annulla").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_focused()  # focus back on the page
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    expect(consent_dialog(page)).to_have_count(0)  # hidden until the next login
    assert answer_state("000145") == "pending"

    log_out(page, live_server)
    page = browser_login("000145")
    dialog = consent_dialog(page)
    expect(dialog).to_be_visible()
    with page.expect_response("**/consenso/annulla") as dismissed:
        page.keyboard.press("Escape")
    assert dismissed.value.ok
    expect(dialog).to_be_hidden()
    page.reload()
    expect(consent_dialog(page)).to_have_count(0)  # Esc is "Annulla": recorded for this login

    log_out(page, live_server)
    page = browser_login("000145")
    dialog = consent_dialog(page)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Si, acconsento").check()
    dialog.get_by_role("button", name="Conferma").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text("hai acconsentito")
    assert answer_state("000145") == "granted"
    log_out(page, live_server)
    browser_login("000145")
    expect(consent_dialog(page)).to_have_count(0)


def test_modal_can_be_completed_with_the_keyboard_alone(browser_login, live_server):
    page = browser_login("000131")
    dialog = consent_dialog(page)
    expect(dialog).to_be_visible()
    focused = []
    for _ in range(8):  # focus cycles inside the modal, never to the page behind it
        page.keyboard.press("Tab")
        focused.append(page.evaluate(
            "document.querySelector('dialog').contains(document.activeElement)"))
    assert all(focused)
    # Back to the first radio, choose "No", confirm, all with the keyboard.
    page.evaluate("document.querySelector('input[value=si]').focus()")
    page.keyboard.press("ArrowDown")
    expect(dialog.get_by_label("No, non acconsento")).to_be_checked()
    page.keyboard.press("Tab")  # Annulla
    page.keyboard.press("Tab")  # Conferma
    expect(dialog.get_by_role("button", name="Conferma")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    assert answer_state("000131") == "declined"


def test_modal_has_no_serious_accessibility_violations(browser_login, live_server):
    page = browser_login("000131")
    expect(consent_dialog(page)).to_be_visible()
    page.get_by_role("button", name="Conferma").click()
    expect(page.get_by_role("alert")).to_be_visible()  # check the error state too
    results = Axe().run(page, context="#consent-modal")
    serious = [
        violation for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], results.generate_report()
    assert results.response["passes"], "axe did not run"


def test_altri_dati_untick_revokes_in_place_with_a_confirmation(browser_login, live_server):
    page = browser_login("pink")
    page.get_by_role("navigation", name="Menu principale").get_by_role("link", name="Area personale").click()
    page.get_by_role("navigation", name="Area personale").get_by_role("link", name="Altri Dati").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Altri Dati")
    page.wait_for_load_state()  # htmx has set up the form (deferred scripts ran)
    flag = page.get_by_label("Autorizzo il mio Professionista all'utilizzo dei Servizi SMART")
    expect(flag).to_be_checked()
    page.evaluate("window.__notReloaded = true")
    flag.focus()
    page.keyboard.press("Space")  # keyboard only
    expect(page.get_by_role("status")).to_contain_text("hai revocato")
    expect(flag).not_to_be_checked()
    expect(flag).to_be_focused()
    assert answer_state("PINK") == "declined"
    shot(page, "altri-dati-revoked")
    page.keyboard.press("Space")
    expect(page.get_by_role("status")).to_contain_text("hai autorizzato")
    expect(flag).to_be_checked()
    assert answer_state("PINK") == "granted"
    assert page.evaluate("window.__notReloaded") is True
    page.reload()
    expect(flag).to_be_checked()
