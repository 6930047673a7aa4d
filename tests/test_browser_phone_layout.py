"""The portal on a phone (375 px wide): no element wider than the screen, so the page never
scrolls sideways; every table shows one card per row, each value under its column's name;
the consent grid's cards hold the checkbox, codice, ragione sociale, the states with their
dates and Storico, below the filters; the Area personale's menu folds into a button. On a
desktop (1366 px) the tables stay tables and the menu stays open.
"""

import pytest
from page_layout import too_wide
from playwright.sync_api import expect
from smart_helpers import set_option7, set_switch

import models
from models import Client, ConsentEvent, User

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1366, "height": 900}

# The label shown above each value of a card (the data-label of its cell).
CARD_LABELS = """(row) => Array.from(row.querySelectorAll("td[data-label]"))
  .map((cell) => getComputedStyle(cell, "::before").content)"""


@pytest.fixture
def studio_in_use(live_server):
    """Option 7 on, operatore1 with SMART access, so the SMART lists have rows."""
    with models.db.connection_context():
        set_option7(on=True)
        set_switch("operatore1", on=True)
    return live_server


def assert_fits_the_phone(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert too_wide(page) == []


def assert_rows_are_cards(page, table, labels):
    """Each row of ``table`` is a card: as wide as the screen allows, its values stacked
    under their labels, no header row in sight."""
    row = table.locator("tbody tr").first
    expect(row).to_be_visible()
    box = row.bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"]
    assert row.evaluate("row => getComputedStyle(row).display") == "block"
    assert row.evaluate(CARD_LABELS) == [f'"{label}"' for label in labels]
    for cell in row.locator("td:visible").all():  # an empty cell is left out of the card
        cell_box = cell.bounding_box()
        assert cell_box["x"] >= box["x"] and cell_box["x"] + cell_box["width"] <= box["x"] + box["width"] + 0.5
    expect(table.locator("thead th").first).not_to_be_in_viewport()


def open_a_service(page, origin):
    """Open PINK's first SMART service from the Servizi SMART list: one line in the access log."""
    page.goto(origin + "/servizi-smart")
    page.get_by_role("button", name="Accedi a Fattura SMART di PINK").click()
    page.wait_for_url("**/servizio-smart-simulato/**")


def test_the_consent_grid_shows_one_card_per_client_below_its_filters(browser_login, live_server):
    page = browser_login("admin")
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/area-personale/consensi?per_pagina=25")  # every demo client
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_fits_the_phone(page)

    card = page.locator("#consent-grid tbody tr", has=page.get_by_role("checkbox", name="Seleziona PINK"))
    expect(card).to_be_visible()
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    fields = {
        "checkbox": card.get_by_role("checkbox", name="Seleziona PINK"),
        "codice": card.locator(".col-codice"),
        "ragione sociale": card.locator(".col-ragione_sociale"),
        "stato richiesta": card.locator(".col-stato_richiesta"),
        "data richiesta": card.locator(".col-data_richiesta"),
        "stato risposta": card.locator(".col-stato_risposta"),
        "data risposta": card.locator(".col-data_risposta"),
        "Storico": card.get_by_role("link", name="Storico di PINK"),
    }
    card.scroll_into_view_if_needed()
    for name, field in fields.items():
        expect(field, name).to_be_in_viewport()  # on screen, not off to the right
    expect(fields["codice"]).to_have_text("PINK")
    expect(fields["ragione sociale"]).to_have_text("Pink S.r.l.")
    expect(fields["stato richiesta"]).to_contain_text("Inviato")
    expect(fields["data richiesta"]).to_contain_text("/")
    expect(fields["stato risposta"]).to_contain_text("aderito")
    # each state sits beside its date, both under their labels
    for state, date in (("stato richiesta", "data richiesta"), ("stato risposta", "data risposta")):
        state_box, date_box = fields[state].bounding_box(), fields[date].bounding_box()
        assert abs(state_box["y"] - date_box["y"]) < 2 and state_box["x"] < date_box["x"], state
    assert card.evaluate(CARD_LABELS)[:4] == ['"Stato richiesta"', '"Data richiesta"', '"Stato risposta"', '"Data risposta"']

    # the filters, with their names shown, above the first card
    first_card = page.locator("#consent-grid tbody tr").first
    page.evaluate("window.scrollTo(0, 0)")
    for label in ("Codice", "Filtra per stato richiesta", "Filtra per stato risposta"):
        field = page.get_by_label(label, exact=True)
        field.scroll_into_view_if_needed()
        expect(field).to_be_in_viewport()
        assert field.bounding_box()["y"] < first_card.bounding_box()["y"], label
    expect(page.locator("label[for=grid-stato-risposta]")).to_be_visible()

    # the filters still work: the grid answers in place with fewer cards
    page.get_by_label("Codice", exact=True).fill("PINK")
    expect(page.locator("#consent-grid tbody tr")).to_have_count(1)
    assert_fits_the_phone(page)


# The rendered size of the chart's text (the SVG scales with the screen, its text with it).
CHART_TEXT_PX = """() => Array.from(document.querySelectorAll(".campaign svg text"))
  .map((text) => text.getBoundingClientRect().height)"""


def test_the_campaigns_chart_and_counts_read_on_a_phone(browser_login, live_server):
    with models.db.connection_context():  # an answer this week: the chart has its table
        pink = Client.get(Client.code == "PINK")
        ConsentEvent.create(studio=pink.studio_id, client=pink, kind="granted", channel="modal",
                            actor=User.get(User.username == "pink"))
    page = browser_login("admin")
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/area-personale/consensi")
    chart = page.get_by_role("img", name="Risposte per settimana, ultimi 12 mesi")
    expect(chart).to_be_visible()
    assert_fits_the_phone(page)
    # the axes' labels about as large as the page's small print, not a quarter of it
    heights = page.evaluate(CHART_TEXT_PX)
    assert heights and min(heights) >= 10, heights
    key = page.locator(".campaign .chart-key li")
    expect(key).to_have_text(["Aderito", "Non aderito", "Revocato"])
    assert all(float(size[:-2]) >= 12 for size in key.evaluate_all(
        "items => items.map((li) => getComputedStyle(li).fontSize)"))
    # the counts two by two, below the total
    total = page.locator(".campaign-counts li").first.bounding_box()
    waiting = page.locator(".campaign-in_attesa").bounding_box()
    not_sent = page.locator(".campaign-non_inviato").bounding_box()
    assert total["width"] > 250 and abs(waiting["y"] - not_sent["y"]) < 2
    assert waiting["x"] > not_sent["x"]
    # the chart's table, opened, within its box, a line under each row
    page.get_by_text("Dati del grafico in tabella").click()
    table = page.locator(".campaign .chart-table")
    expect(table).to_be_visible()
    inside = page.locator(".campaign .chart-data").bounding_box()
    assert table.bounding_box()["x"] + table.bounding_box()["width"] <= inside["x"] + inside["width"] + 0.5
    assert table.locator("tbody td").last.evaluate("td => getComputedStyle(td).borderBottomWidth") == "1px"
    assert_fits_the_phone(page)


def test_the_consent_grid_stays_a_table_on_a_desktop(browser_login, live_server):
    page = browser_login("admin")
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + "/area-personale/consensi")
    row = page.locator("#consent-grid tbody tr").first
    assert row.evaluate("row => getComputedStyle(row).display") == "table-row"
    expect(page.get_by_role("columnheader", name="Stato risposta")).to_be_visible()
    assert set(row.evaluate(CARD_LABELS)) == {"none"}  # no labels inside a table's cells
    expect(page.locator("label[for=grid-stato-risposta]")).not_to_be_in_viewport()  # named for screen readers only


@pytest.mark.parametrize(("path", "labels"), [
    ("/area-personale/operatori", ["Stato", "Clienti gestiti", "Accesso ai Servizi SMART", "E-mail e password"]),
    ("/area-personale/clienti", ["Codice", "Ragione sociale", "Codice fiscale", "Partita IVA", "E-mail",
                                 "Servizi SMART", "Operatore", "Stato"]),
    ("/area-personale/registro-attivita", ["Data", "Evento", "Utente", "Indirizzo", "Dettagli"]),
])
def test_the_admins_lists_are_cards_on_a_phone(browser_login, live_server, path, labels):
    page = browser_login("admin")
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_fits_the_phone(page)
    assert_rows_are_cards(page, page.locator("main table").first, labels)


def test_an_operators_clients_are_cards_on_a_phone(browser_login, live_server):
    page = browser_login("admin")
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/area-personale/operatori")
    page.get_by_role("link", name="Clienti gestiti da operatore1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clienti gestiti da")
    assert_fits_the_phone(page)
    assert_rows_are_cards(page, page.locator("#managed-clients table"), ["Gestito", "Codice", "Ragione sociale"])
    # a card's checkbox still saves in place
    box = page.get_by_role("checkbox", name="Gestisce PINK")
    expect(box).to_be_checked()
    box.uncheck()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Gestisce PINK")).not_to_be_checked()


def test_a_client_of_the_anagrafica_fits_a_phone(browser_login, live_server):
    page = browser_login("admin")
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/area-personale/clienti")
    page.locator("#clients tbody").get_by_role("link", name="PINK", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PINK")
    assert_fits_the_phone(page)
    assert_rows_are_cards(page, page.locator("#client-record table"),
                          ["Nome utente", "Password", "Indirizzo per il link", "Ultimo accesso"])


@pytest.mark.parametrize("username", ["admin", "operatore1"])
def test_the_smart_list_and_the_access_log_are_cards_on_a_phone(page, browser_login, studio_in_use, username):
    origin = studio_in_use.url
    browser_login(username)
    page.set_viewport_size(PHONE)
    open_a_service(page, origin)
    page.goto(origin + "/servizi-smart")
    assert_fits_the_phone(page)
    assert_rows_are_cards(page, page.locator("#smart-clients table"), ["Codice", "Ragione sociale", "Stato", "Servizi SMART attivi"])
    access = page.get_by_role("button", name="Accedi a Fattura SMART di PINK")
    access.scroll_into_view_if_needed()
    expect(access).to_be_in_viewport()
    if username != "admin":
        return
    page.goto(origin + "/area-personale/accessi-smart")
    assert_fits_the_phone(page)
    assert_rows_are_cards(page, page.locator("#access-log table"), ["Data", "Utente", "Cliente", "Servizio", "Esito"])


def test_the_side_menu_folds_into_a_button_on_a_phone(browser_login, live_server):
    page = browser_login("admin")
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/area-personale/operatori")
    menu = page.get_by_role("navigation", name="Area personale")
    button = menu.get_by_role("button", name="Menu dell'Area personale")
    link = menu.get_by_role("link", name="Configurazioni Varie")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(link).to_be_hidden()
    # the page's heading comes right after the folded menu, not below a screenful of links
    assert page.get_by_role("heading", level=1).bounding_box()["y"] < PHONE["height"] / 2

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Configurazioni varie")
    expect(page.get_by_role("link", name="Configurazioni Varie")).to_be_hidden()  # folded again on the new page


def test_the_side_menu_stays_open_on_a_desktop(browser_login, live_server):
    page = browser_login("admin")
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + "/area-personale/operatori")
    menu = page.get_by_role("navigation", name="Area personale")
    expect(menu.get_by_role("button", name="Menu dell'Area personale")).to_be_hidden()
    expect(menu.get_by_role("link", name="Configurazioni Varie")).to_be_visible()


@pytest.mark.parametrize("username", ["pink", "operatore1"])
def test_every_page_of_a_client_and_an_operator_fits_a_phone(page, browser_login, studio_in_use, username):
    browser_login(username)
    page.set_viewport_size(PHONE)
    paths = ["/", "/area-personale", "/area-personale/cambio-password"]
    paths += ["/area-personale/altri-dati"] if username == "pink" else ["/servizi-smart"]
    for path in paths:
        page.goto(studio_in_use.url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_fits_the_phone(page)


TABLET = {"width": 768, "height": 900}
# The cells that must not wrap (codes, codici fiscali, partite IVA, states) whose text runs
# over more than one line: one word each, so a second line means a word broken in two.
WORDS_BROKEN = """(table) => Array.from(table.querySelectorAll("tbody td.nowrap, tbody td[data-label='Stato'] > span"))
  .filter((cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set(Array.from(range.getClientRects()).map((line) => Math.round(line.top))).size > 1;
  })
  .map((cell) => cell.textContent.trim())"""


@pytest.mark.parametrize("path", ["/area-personale/clienti", "/area-personale/operatori"])
def test_the_admins_tables_keep_their_words_whole_on_desktop_and_tablet(browser_login, live_server, path):
    """A desktop shows the whole table, each code, codice fiscale, partita IVA and state on
    one line; a tablet scrolls a table too wide inside its box, never the page."""
    page = browser_login("admin")
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + path)
    table = page.locator(".smart-table")
    expect(table).to_be_visible()
    box = page.locator(".table-scroll").first
    assert table.evaluate("t => t.scrollWidth") <= box.evaluate("b => b.clientWidth")
    assert table.evaluate(WORDS_BROKEN) == []
    for button in table.locator(".button").all():  # "Disabilita", "Invia link per la password"
        assert len(button.evaluate("b => Array.from(b.getClientRects())")) == 1
        assert button.bounding_box()["height"] < 2 * 20
    page.set_viewport_size(TABLET)
    page.reload()
    expect(table).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    assert table.evaluate(WORDS_BROKEN) == []
