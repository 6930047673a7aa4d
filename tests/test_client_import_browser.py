"""The client import in a real browser: upload, the report in place, confirm, the result."""

import pytest
from playwright.sync_api import expect

import models
from models import Client, User

pytestmark = pytest.mark.browser

CLIENT_FILE = (
    b"Codice;Ragione sociale;Partita IVA;E-mail;Servizi SMART;Operatore\n"
    b"WEB1;Prima dal Browser S.r.l.;01234560157;web1@example.it;Fattura SMART;operatore1\n"
    b"WEB2;Seconda dal Browser S.r.l.;;;SMART Hub;\n"
    b"WEB3;Sbagliata S.r.l.;123;;;\n"
)


def test_upload_report_confirm(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/clienti/importa")
    page.get_by_label("File dei clienti (CSV o XLSX)").set_input_files(
        {"name": "clienti.csv", "mimeType": "text/csv", "buffer": CLIENT_FILE})
    page.get_by_role("button", name="Controlla il file").click()

    # The check starts by itself on the job's page and its report replaces the progress.
    summary = page.locator(".import-summary")
    expect(summary).to_have_text("2 nuovi, 0 modificati, 0 invariati; 1 riga scartata.")
    # Focus goes to the report (not back to the top of the page).
    expect(page.get_by_role("heading", name="Risultato del controllo")).to_be_focused()
    expect(page.get_by_role("row", name="4 WEB3 Partita IVA «123» non valida.")).to_be_visible()
    expect(page.get_by_role("link", name="Scarica le righe scartate (CSV)")).to_be_visible()
    with models.db.connection_context():
        assert not Client.select().where(Client.code == "WEB1").exists()  # nothing yet

    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Invia l'invito ai nuovi clienti").check()
    page.get_by_role("button", name="Importa le 2 righe valide").click()
    expect(page.get_by_role("heading", name="Importazione completata")).to_be_focused()
    expect(summary).to_have_text(
        "2 nuovi, 0 modificati, 0 invariati; 1 riga scartata. Inviti in partenza: 1.")
    assert page.evaluate("window.__notReloaded") is True  # swapped in place
    with models.db.connection_context():
        assert Client.select().where(Client.code.in_(["WEB1", "WEB2"])).count() == 2
        assert User.select().where(User.username.in_(["web1", "web2"])).count() == 2

    # Back on the page later: the result, not a second import.
    page.reload()
    expect(page.get_by_role("heading", name="Importazione completata")).to_be_visible()
