"""Operatori di studio in a real browser: every change is saved in place, without reloads."""

import os
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SMART_SCREENSHOTS")


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_admin_manages_operators_in_place(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/operatori")
    page.evaluate("window.__notReloaded = true")
    switch = page.get_by_role("switch", name="Accesso ai Servizi SMART di operatore1")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(page.get_by_role("status")).to_have_text("Accesso ai Servizi SMART attivato per operatore1.")
    expect(page.get_by_role("switch", name="Accesso ai Servizi SMART di operatore1")).to_have_attribute(
        "aria-checked", "true")
    page.get_by_role("button", name="Disabilita operatore2").click()
    expect(page.get_by_role("status")).to_contain_text("Operatore operatore2 disabilitato")
    page.get_by_label("Nome utente").fill("x")
    page.get_by_label("Nome e cognome", exact=True).fill("Luca Nuovo")
    page.get_by_label("E-mail", exact=True).fill("luca@studio.example")
    page.get_by_role("button", name="Crea operatore").click()
    expect(page.locator("#op-username-error")).to_contain_text("Il nome utente deve avere da 3 a 80")
    expect(page.get_by_label("Nome utente")).to_be_focused()  # the first field to correct
    page.get_by_label("Nome utente").fill("luca.nuovo")
    page.get_by_role("button", name="Crea operatore").click()
    expect(page.get_by_role("status")).to_contain_text("Operatore luca.nuovo creato: gli è stato inviato a luca@studio.example il link")
    expect(page.get_by_role("row", name="Luca Nuovo (luca.nuovo)")).to_be_visible()
    shot(page, "operators.png")
    assert page.evaluate("window.__notReloaded") is True

    page.get_by_role("link", name="Clienti gestiti da operatore1: 6").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clienti gestiti da Marco Operatore")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Cerca cliente").fill("edil")
    expect(page.locator("#managed-clients tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=edil"))
    page.get_by_role("checkbox", name="Gestisce 000088").check()
    expect(page.get_by_role("status")).to_have_text("Clienti gestiti salvati.")
    expect(page.get_by_role("checkbox", name="Gestisce 000088")).to_be_checked()
    shot(page, "managed-clients.png")
    assert page.evaluate("window.__notReloaded") is True
    page.reload()
    expect(page.get_by_role("checkbox", name="Gestisce 000088")).to_be_checked()


def test_the_keyboard_stays_on_the_control_after_each_change(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/operatori")
    page.get_by_role("switch", name="Accesso ai Servizi SMART di operatore1").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("switch", name="Accesso ai Servizi SMART di operatore1")).to_have_attribute(
        "aria-checked", "true")
    expect(page.get_by_role("switch", name="Accesso ai Servizi SMART di operatore1")).to_be_focused()
    page.get_by_role("button", name="Disabilita operatore2").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Riabilita operatore2")).to_be_focused()
    # The swapped form is live once htmx has initialised it (a key pressed before would post
    # the form without htmx: the page reloads, which works, but is not what this test shows).
    expect(page.locator("form:has(> button[aria-label='Riabilita operatore2'])")).to_have_attribute(
        "data-htmx-powered", "true")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Disabilita operatore2")).to_be_focused()


def test_admin_renames_an_operator_and_changes_his_email_by_keyboard(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/operatori")
    page.evaluate("window.__notReloaded = true")
    name = page.get_by_label("Nome e cognome di operatore1")
    expect(name).to_be_hidden()  # folded until asked for
    page.get_by_text("Modifica nome ed e-mail di operatore1").focus()
    page.keyboard.press("Enter")
    expect(name).to_be_visible()
    name.fill("Marco Rossi")
    page.get_by_role("textbox", name="E-mail di operatore1").fill("marco@senza-dominio")
    page.get_by_role("button", name="Salva nome ed e-mail di operatore1").click()
    expect(page.locator(".field-error")).to_be_visible()  # the form stays open, the error said
    expect(page.get_by_role("alert")).to_contain_text("I dati di operatore1 non sono stati cambiati")
    page.get_by_role("textbox", name="E-mail di operatore1").fill("marco.rossi@studio.example")
    page.get_by_role("textbox", name="E-mail di operatore1").press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Dati di operatore1 salvati: nome «Marco Rossi», e-mail marco.rossi@studio.example.")
    expect(page.get_by_role("row", name=re.compile(r"Marco Rossi \(operatore1\)"))).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
