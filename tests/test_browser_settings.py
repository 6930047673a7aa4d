"""In Chromium: the admin's SMART banner across logins, and Configurazioni varie saved in place."""

import os

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")
BANNER_TITLE = "Accesso ai Servizi SMART dei tuoi clienti"
SMART_OPTION = "Desidero accedere ai Servizi SMART dei clienti con le mie credenziali."


def log_out(page, live_server):
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url(live_server.url + "/login")


def test_banner_chiudi_until_next_login_then_non_mostrare_piu_for_good(browser_login, live_server):
    page = browser_login("admin")
    banner = page.get_by_role("region", name=BANNER_TITLE)
    expect(banner).to_be_visible()
    page.screenshot(path=f"{SCREENSHOTS}/settings-banner.png", full_page=True)
    link = banner.get_by_role("link", name="Area Personale-> Configurazione-> Configurazioni varie")
    expect(link).to_have_attribute("href", "/area-personale/configurazioni-varie")

    page.evaluate("window.__notReloaded = true")
    close = banner.get_by_role("button", name="Chiudi")
    close.focus()
    page.keyboard.press("Enter")  # keyboard-operable
    expect(banner).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True  # removed in place
    expect(page.get_by_role("heading", name="Home")).to_be_focused()  # focus not lost
    page.reload()
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    expect(page.get_by_role("region", name=BANNER_TITLE)).to_have_count(0)

    log_out(page, live_server)
    browser_login("admin")
    banner = page.get_by_role("region", name=BANNER_TITLE)
    expect(banner).to_be_visible()  # back at the next login
    page.evaluate("window.__notReloaded = true")
    banner.get_by_role("button", name="Non mostrare più").click()
    expect(banner).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True

    log_out(page, live_server)
    browser_login("admin")
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    expect(page.get_by_role("region", name=BANNER_TITLE)).to_have_count(0)  # never again


def test_option_is_saved_in_place_and_survives_a_reload(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/configurazioni-varie")
    expect(page.get_by_role("heading", level=1)).to_have_text("Configurazioni varie")
    smart = page.get_by_role("checkbox", name=SMART_OPTION)
    expect(smart).not_to_be_checked()
    page.evaluate("window.__notReloaded = true")
    smart.focus()
    page.keyboard.press("Space")
    expect(page.locator("#smart_access-status")).to_have_text("Salvato: opzione attivata")
    expect(smart).to_be_checked()
    expect(smart).to_be_focused()  # the morph keeps the user where he was
    assert page.evaluate("window.__notReloaded") is True
    page.get_by_role("checkbox", name="Abilita invio notifica consegna fatture").check()
    expect(page.locator("#notify_invoice_delivery-status")).to_have_text("Salvato: opzione attivata")
    page.screenshot(path=f"{SCREENSHOTS}/settings-options-saved.png", full_page=True)

    page.reload()
    expect(page.get_by_role("checkbox", name=SMART_OPTION)).to_be_checked()
    expect(page.get_by_role("checkbox", name="Abilita invio notifica consegna fatture")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Abilita creazione modelli/sottomodelli")).not_to_be_checked()
    expect(page.locator("#smart_access-status")).to_have_text("")

    page.get_by_role("checkbox", name=SMART_OPTION).uncheck()
    expect(page.locator("#smart_access-status")).to_have_text("Salvato: opzione disattivata")
    page.reload()
    expect(page.get_by_role("checkbox", name=SMART_OPTION)).not_to_be_checked()


def test_bad_link_shows_the_message_and_saves_nothing(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/configurazioni-varie")
    field = page.get_by_role("textbox", name="Link nella mail di notifica")
    field.fill("ftp://documenti.studio.it/archivio")
    page.get_by_role("button", name="Salva link").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Il link non è valido: inserisci un indirizzo web completo che inizi con http:// o https://")
    expect(field).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=f"{SCREENSHOTS}/settings-bad-link.png", full_page=True)
    page.reload()
    expect(page.get_by_role("textbox", name="Link nella mail di notifica")).to_have_value("")

    field = page.get_by_role("textbox", name="Link nella mail di notifica")
    field.fill("https://www.studiorossi.it/documenti")
    field.press("Enter")
    expect(page.locator("#publication-link-status")).to_have_text("Salvato: link personalizzato")
    expect(page.get_by_role("alert")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("textbox", name="Link nella mail di notifica")).to_have_value(
        "https://www.studiorossi.it/documenti")


def test_a_failed_save_does_not_look_saved(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/configurazioni-varie")
    page.route("**/configurazioni-varie/read_receipts", lambda route: route.abort())
    option = page.get_by_role("checkbox", name=(
        "Abilitazione alla ricezione di conferma notifica lettura dei documenti"))
    option.click()
    expect(page.locator("#read_receipts-status")).to_have_text("Non salvato: riprova tra poco.")
    expect(option).not_to_be_checked()
    page.screenshot(path=f"{SCREENSHOTS}/settings-failed-save.png", full_page=True)
