"""Anagrafica clienti in a real browser: search in place, a client edited and deactivated in place."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_admin_finds_and_edits_a_client_in_place(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale")
    page.get_by_role("link", name="Anagrafica clienti").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Anagrafica clienti")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Cerca cliente").fill("01234560")  # PINK's codice fiscale
    expect(page.locator("#clients tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=01234560"))
    assert page.evaluate("window.__notReloaded") is True

    page.get_by_role("link", name="PINK").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PINK · Pink S.r.l.")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("E-mail").fill("non-un-indirizzo")
    page.get_by_role("button", name="Salva").click()
    expect(page.locator("#client-email-error")).to_have_text(
        "«non-un-indirizzo» non è un indirizzo e-mail valido.")
    expect(page.get_by_role("alert")).to_contain_text("Nessuna modifica salvata")

    page.get_by_label("E-mail").fill("amministrazione@pink.it")
    page.get_by_label("Corrispettivi SMART").check()
    page.get_by_label("SMART Hub").uncheck()
    page.get_by_label("Operatore che lo gestisce").select_option(label="Giulia Operatrice (operatore2)")
    page.get_by_role("button", name="Salva").click()
    expect(page.get_by_role("status")).to_have_text(
        "Modifiche salvate: E-mail, Servizi SMART, Operatore.")
    expect(page.locator("#client-email-error")).to_have_count(0)
    expect(page.get_by_label("Corrispettivi SMART")).to_be_checked()
    expect(page.get_by_label("SMART Hub")).not_to_be_checked()

    page.get_by_role("button", name="Invia link per la password").click()
    expect(page.get_by_role("status")).to_contain_text("Link per la password inviato a pink")

    page.get_by_role("button", name="Disattiva cliente").click()
    page.get_by_role("button", name="Sì, disattiva il cliente").click()  # asked first
    expect(page.get_by_role("status")).to_contain_text("Cliente PINK disattivato")
    expect(page.get_by_label("Fattura SMART")).to_be_disabled()
    expect(page.get_by_label("Fattura SMART")).not_to_be_checked()
    expect(page.get_by_role("button", name="Riattiva cliente")).to_be_visible()
    expect(page.get_by_role("button", name="Invia link per la password")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True

    page.reload()  # what was saved is what the page shows
    expect(page.get_by_label("E-mail")).to_have_value("amministrazione@pink.it")
    expect(page.get_by_label("Operatore che lo gestisce")).to_have_value(
        re.compile(r"^\d+$"))
    expect(page.locator("#client-operator option:checked")).to_have_text(
        "Giulia Operatrice (operatore2)")
    page.get_by_role("link", name="Torna a Anagrafica clienti").click()
    page.get_by_label("Cerca cliente").fill("PINK")
    expect(page.get_by_role("row", name=re.compile("PINK"))).to_contain_text("disattivato")
