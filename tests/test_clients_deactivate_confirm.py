"""Anagrafica clienti, from the walk-through of issue 16: "Disattiva cliente" asks first,
saying what it removes; a result is shown by the button that caused it."""

import pytest
from conftest import login_as, parse, visible_text
from playwright.sync_api import expect
from smart_helpers import client

from models import Client

BASE = "/area-personale/clienti"


def test_disattiva_asks_first_and_changes_nothing(app, db, hx):
    admin = login_as(app, "admin")
    pink = client("PINK")
    response = admin.post(f"{BASE}/{pink.id}/stato", data={"attivo": "0"}, headers=hx("client-record"))
    assert response.status_code == 200
    page = parse(response)
    panel = page.select_one(".confirm-panel")
    assert visible_text(panel.find("h3")) == "Disattivare il cliente PINK?"
    assert panel.find("h3").has_attr("autofocus")
    assert "I suoi Servizi SMART saranno tolti (Fattura SMART, SMART Hub)" in visible_text(panel)
    assert panel.find("button", string="Sì, disattiva il cliente")
    assert panel.find("a", string="Annulla")["href"] == f"{BASE}/{pink.id}"
    assert client("PINK").active and client("PINK").smart_services == 2  # nothing yet

    response = admin.post(f"{BASE}/{pink.id}/stato", data={"attivo": "0", "conferma": "1"},
                          headers=hx("client-record"))
    assert not client("PINK").active
    page = parse(response)
    # the result is right after the state's button, not at the top of the region
    status = page.select_one("[role=status]")
    assert "Cliente PINK disattivato" in visible_text(status)
    assert status.find_previous("button")["id"] == "client-state"


def test_without_javascript_the_confirmation_is_a_page(app, db):
    admin = login_as(app, "admin")
    pink = client("PINK")
    page = parse(admin.post(f"{BASE}/{pink.id}/stato", data={"attivo": "0"}))
    assert page.select_one("#client-record .confirm-panel")
    assert client("PINK").active


def test_reactivating_needs_no_confirmation(app, db):
    admin = login_as(app, "admin")
    Client.update(active=False).where(Client.code == "PINK").execute()
    admin.post(f"{BASE}/{client('PINK').id}/stato", data={"attivo": "1"})
    assert client("PINK").active


def test_the_link_sent_message_is_next_to_its_button(app, db, hx):
    admin = login_as(app, "admin")
    pink = client("PINK")
    page = parse(admin.post(f"{BASE}/{pink.id}/invito", headers=hx("client-record")))
    status = page.select_one("[role=status]")
    assert visible_text(status).startswith("Link per la password inviato a pink")
    assert status.find_previous("button")["id"] == "client-invite"


@pytest.mark.browser
def test_disattiva_in_the_browser_asks_then_acts(browser_login, live_server):
    with live_server.app.app_context():
        from models import db as database
        with database.connection_context():
            pink_id = client("PINK").id
    page = browser_login("admin")
    page.goto(f"{live_server.url}{BASE}/{pink_id}")
    page.get_by_role("button", name="Disattiva cliente").click()
    expect(page.get_by_role("heading", name="Disattivare il cliente PINK?")).to_be_focused()
    page.get_by_role("link", name="Annulla").click()
    expect(page.get_by_role("button", name="Disattiva cliente")).to_be_visible()
    page.get_by_role("button", name="Disattiva cliente").click()
    page.get_by_role("button", name="Sì, disattiva il cliente").click()
    expect(page.get_by_role("button", name="Riattiva cliente")).to_be_visible()
    expect(page.get_by_role("status")).to_be_in_viewport()
    expect(page.get_by_role("status")).to_contain_text("Cliente PINK disattivato")
