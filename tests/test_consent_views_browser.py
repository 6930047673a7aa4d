"""Issue 15 in Chromium: Altri Dati per service saved in place, and the issue's "Done when"
walk (12 mesi, PINK scaduto, sending, renewal, operatore1 reaches her again, SMART Hub unticked,
"servizio non autorizzato dal cliente", a forged hand-off refused)."""

import re

import pytest
from playwright.sync_api import expect
from smart_helpers import client, set_option7, set_switch

import models
from models import AccessEvent

pytestmark = pytest.mark.browser

FLAG = "Autorizzo il mio Professionista all'utilizzo dei Servizi SMART"
MODAL_TITLE = "Conferma del consenso affinché il tuo Commercialista possa accedere ai Servizi SMART"


def log_out(page, live_server):
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url(live_server.url + "/login")


def test_altri_dati_saves_each_service_in_place(browser_login, live_server):
    page = browser_login("pink")
    page.goto(live_server.url + "/area-personale/altri-dati")
    page.evaluate("window.__notReloaded = true")
    flag = page.get_by_role("checkbox", name=FLAG)
    hub = page.get_by_role("checkbox", name="SMART Hub")
    invoices = page.get_by_role("checkbox", name="Fattura SMART")
    expect(flag).to_be_checked()
    expect(page.locator("#altri-dati-state")).to_contain_text("Consenso senza scadenza.")

    hub.uncheck()
    expect(page.locator("#altri-dati-status")).to_have_text(
        "Salvato: il tuo Professionista non potrà più utilizzare «SMART Hub».")
    expect(flag).to_be_checked()
    expect(invoices).to_be_checked()
    expect(hub).not_to_be_checked()

    invoices.uncheck()  # the last one: a revocation
    expect(flag).not_to_be_checked()
    expect(page.locator("#altri-dati-state")).to_contain_text("Consenso non dato")

    flag.check()  # every active service again
    expect(invoices).to_be_checked()
    expect(hub).to_be_checked()
    assert page.evaluate("window.__notReloaded") is True  # all of it in place


def access_events():
    with models.db.connection_context():
        return [(e.user.username, e.client.code if e.client else None,
                 e.service.code if e.service else None, e.granted, e.reason)
                for e in AccessEvent.select().order_by(AccessEvent.id)]


def pink_row(page):
    return page.locator(".smart-table tbody tr").filter(has_text="PINK")


def test_done_when_the_issue_says(browser_login, live_server, browser, browser_context_args):
    with models.db.connection_context():
        set_option7(on=True)
        set_switch("operatore1")

    # The administrator sets "Durata del consenso" at 12 mesi: PINK's consent of 2020 has expired.
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/consensi?codice=PINK&op=uguale")
    page.get_by_label("Durata del consenso").select_option(label="12 mesi")
    page.get_by_role("button", name="Salva la durata").click()
    expect(page.get_by_text("Durata del consenso: 12 mesi. 7 consensi sono scaduti ora.")).to_be_visible()
    page.goto(live_server.url + "/area-personale/consensi?codice=PINK&op=uguale")
    row = page.locator("#consent-grid tbody tr").filter(has_text="PINK")
    expect(row.locator(".col-stato_risposta .state")).to_have_text("scaduto")
    expect(row.locator(".col-scadenza")).to_have_text("18/06/2021")

    # operatore1, in his own browser, cannot open PINK and reads why.
    operator_context = browser.new_context(**browser_context_args)
    operator = operator_context.new_page()
    operator.goto(live_server.url + "/login")
    operator.get_by_label("Nome utente").fill("operatore1")
    operator.get_by_label("Password").fill("demo")
    operator.get_by_role("button", name="Accedi").click()
    operator.wait_for_url(live_server.url + "/")
    operator.goto(live_server.url + "/servizi-smart")
    expect(pink_row(operator).locator(".smart-state")).to_have_text("consenso scaduto il 18/06/2021")
    expect(operator.get_by_role("button", name=re.compile("di PINK$"))).to_have_count(0)

    # The administrator sends PINK a request (selection, confirmation).
    row.get_by_role("checkbox", name="Seleziona PINK").check()
    page.get_by_role("link", name="Invia ai selezionati (1)").click()
    page.get_by_role("button", name="Conferma l'invio a 1 cliente").click()
    # an expired consent asked again waits for the answer, as any request
    expect(row.locator(".col-stato_risposta .state")).to_have_text("In attesa")
    log_out(page, live_server)

    # pink logs in, reads that her consent expired, answers "Si".
    page = browser_login("pink")
    dialog = page.get_by_role("dialog", name=MODAL_TITLE)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Il consenso che hai dato il 18/06/2020 è scaduto il 18/06/2021.")
    dialog.get_by_text("Si", exact=True).click()
    dialog.get_by_role("button", name="Conferma").click()
    expect(dialog).to_be_hidden()

    # operatore1 can open Fattura SMART and SMART Hub again.
    operator.reload()
    expect(pink_row(operator).locator(".smart-state")).to_have_text("raggiungibile")
    expect(operator.get_by_role("button", name=re.compile("di PINK$"))).to_have_count(2)

    # pink unticks SMART Hub in Altri Dati.
    page.goto(live_server.url + "/area-personale/altri-dati")
    page.get_by_role("checkbox", name="SMART Hub").uncheck()
    expect(page.locator("#altri-dati-status")).to_contain_text("«SMART Hub»")
    expect(page.locator("#altri-dati-state")).to_contain_text("Consenso valido fino al")

    # operatore1's list: SMART Hub for PINK is "servizio non autorizzato dal cliente".
    operator.reload()
    hub = pink_row(operator).locator(".smart-services li").filter(has_text="SMART Hub")
    expect(hub.locator(".smart-service-reason")).to_have_text("servizio non autorizzato dal cliente")
    expect(operator.get_by_role("button", name="Accedi a Fattura SMART di PINK")).to_be_visible()
    expect(operator.get_by_role("button", name="Accedi a SMART Hub di PINK")).to_have_count(0)

    # ...and a forged hand-off to it is refused, with the reason in the access log.
    with models.db.connection_context():
        target = client("PINK").id
    token = operator.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = operator.request.post(f"{live_server.url}/servizi-smart/{target}/smart_hub/accedi",
                                   headers={"X-CSRFToken": token}, max_redirects=0)
    assert forged.status == 403
    assert "Accesso negato." in forged.text()
    assert access_events()[-1] == ("operatore1", "PINK", "smart_hub", False, "servizio_non_autorizzato")
    operator_context.close()
