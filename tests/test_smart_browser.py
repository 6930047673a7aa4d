"""The SMART story of issue 5 in Chromium: switch, tile, hand-off, revocation, forged URLs."""

import os
import re

import pytest
from playwright.sync_api import expect
from smart_helpers import client, user

import models
from models import AccessEvent, User

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SMART_SCREENSHOTS")
SMART_OPTION = "Desidero accedere ai Servizi SMART dei clienti con le mie credenziali."


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def log_out(page, live_server):
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url(live_server.url + "/login")


def access_events():
    with models.db.connection_context():
        return [(e.user.username, e.client.code if e.client else None, e.service.code if e.service else None,
                 e.granted, e.reason)
                for e in AccessEvent.select().where(AccessEvent.stage == "handoff").order_by(AccessEvent.id)]


def test_operator_reaches_consenting_clients_only_and_every_attempt_is_logged(
        browser_login, live_server, page, browser, browser_context_args):
    page = browser_login("operatore1")
    expect(page.get_by_text("Le richieste di consenso ai clienti vengono inviate solo dall'amministratore")).to_be_visible()
    expect(page.locator("a.smart-tile")).to_have_count(0)
    log_out(page, live_server)

    page = browser_login("admin")
    expect(page.locator("a.smart-tile")).to_have_count(0)  # option 7 is off
    page.goto(live_server.url + "/area-personale/configurazioni-varie")
    page.get_by_role("checkbox", name=SMART_OPTION).check()
    expect(page.locator("#smart_access-status")).to_have_text("Salvato: opzione attivata")
    page.goto(live_server.url + "/")
    expect(page.locator("a.smart-tile .tile-count")).to_have_text("7")
    page.goto(live_server.url + "/area-personale/operatori")
    page.get_by_role("switch", name="Accesso ai Servizi SMART di operatore1").click()
    expect(page.get_by_role("switch", name="Accesso ai Servizi SMART di operatore1")).to_have_attribute(
        "aria-checked", "true")
    log_out(page, live_server)

    page = browser_login("operatore1")
    tile = page.locator("a.smart-tile")
    expect(tile).to_contain_text("Servizi SMART")
    expect(tile.locator(".tile-count")).to_have_text("3")
    shot(page, "operator-home.png")
    tile.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Servizi SMART")
    rows = page.locator(".smart-table tbody tr")
    expect(rows).to_have_count(5)  # every client he manages with a service, reachable or not
    expect(page.get_by_role("button", name=re.compile("^Accedi a"))).to_have_count(6)
    shot(page, "servizi-smart.png")
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.get_by_role("button", name="Accedi a Fattura SMART di PINK").click()
    # app.js posts the hand-off form at once: the token travels in the body, in no URL
    page.wait_for_url(live_server.url + "/servizio-smart-simulato/fattura_smart")
    main = page.locator("main")
    expect(main).to_contain_text("Questa pagina simula il prodotto esterno «Fattura SMART»")
    expect(main).to_contain_text("Marco Operatore (operatore1)")
    expect(main).to_contain_text("Pink S.r.l. (codice PINK)")
    shot(page, "stand-in.png")
    arrival = [r for r in requests if "/servizio-smart-simulato/" in r.url and r.is_navigation_request()]
    assert [(r.method, r.url) for r in arrival] == [
        ("POST", live_server.url + "/servizio-smart-simulato/fattura_smart")]
    assert re.fullmatch(r"token=[A-Za-z0-9_-]{40,}", arrival[0].post_data)
    assert not [r.url for r in requests if "token" in r.url]
    page.go_back()  # the history holds the portal's list, not a URL with the token
    expect(page).to_have_url(live_server.url + "/servizi-smart")

    page.goto(live_server.url + "/servizi-smart")
    expect(rows).to_have_count(5)

    # Meanwhile, in another browser, the client sees the access and unticks the flag in Altri Dati.
    client_context = browser.new_context(**browser_context_args)
    client_page = client_context.new_page()
    client_page.goto(live_server.url + "/login")
    client_page.get_by_label("Nome utente").fill("pink")
    client_page.get_by_label("Password").fill("demo")
    client_page.get_by_role("button", name="Accedi").click()
    client_page.wait_for_url(live_server.url + "/")
    client_page.goto(live_server.url + "/area-personale/altri-dati")
    log = client_page.locator(".client-access-log tbody tr")
    expect(log).to_have_count(1)
    expect(log).to_contain_text("Marco Operatore")
    expect(log).to_contain_text("Fattura SMART")
    client_page.get_by_label("Autorizzo il mio Professionista all'utilizzo dei Servizi SMART").uncheck()
    expect(client_page.locator("#altri-dati-state")).to_contain_text("Consenso non dato")
    shot(client_page, "altri-dati.png")
    client_context.close()

    page.get_by_role("button", name="Accedi a Fattura SMART di PINK").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Accesso negato. Il cliente non ha dato il consenso all'accesso ai suoi Servizi SMART.")
    # the list refreshed itself: PINK is still his, now out of reach and saying why
    expect(rows).to_have_count(5)
    expect(rows.filter(has_text="PINK").locator(".smart-state")).to_have_text("non ha aderito")
    expect(page.get_by_role("button", name=re.compile("di PINK$"))).to_have_count(0)
    assert page.url == live_server.url + "/servizi-smart"
    shot(page, "refused.png")
    assert access_events()[-2:] == [
        ("operatore1", "PINK", "fattura_smart", True, None),
        ("operatore1", "PINK", "fattura_smart", False, "consenso_assente"),
    ]
    log_out(page, live_server)

    with models.db.connection_context():
        User.update(smart_access=True).where(User.username == "operatore2").execute()
        target = client("002420.002420").id  # operatore1's, consenting
        assert user("operatore2").smart_access
    page = browser_login("operatore2")
    page.goto(live_server.url + "/servizi-smart")
    expect(page.locator(".smart-table")).not_to_contain_text("002420.002420")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(f"{live_server.url}/servizi-smart/{target}/fattura_smart/accedi",
                               headers={"X-CSRFToken": token}, max_redirects=0)
    assert forged.status == 403
    assert "Non gestisci questo cliente." in forged.text()
    assert access_events()[-1] == ("operatore2", "002420.002420", "fattura_smart", False, "cliente_non_gestito")
    page.goto(f"{live_server.url}/servizi-smart?q=002420")
    expect(page.locator(".smart-table")).to_have_count(0)
    expect(page.locator("#smart-clients")).to_contain_text("Nessun cliente corrisponde alla ricerca.")
    log_out(page, live_server)

    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale")
    page.get_by_role("link", name="Accessi ai Servizi SMART").click()
    expect(page.locator("#access-log tbody tr").last).to_contain_text("Aperto")  # the stand-in accepted it
    page.get_by_label("Esito").select_option("rifiutato")
    expect(page.locator("#access-log tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"esito=rifiutato"))
    page.get_by_label("Utente").fill("operatore2")
    expect(page.locator("#access-log tbody tr")).to_have_count(1)
    expect(page.locator("#access-log tbody tr")).to_contain_text("operatore2 non gestisce questo cliente")
    shot(page, "access-log.png")
