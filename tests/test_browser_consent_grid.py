"""The consent grid in a real browser: filtering as you type, paging, sorting, back button."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

import consent
import demo
import models
from models import Studio

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("GRID_SCREENSHOTS")  # a folder: save screenshots there to look at


def shot(page, name):
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def grid_codes(page):
    return page.locator("#consent-grid tbody td.col-codice").all_inner_texts()


def open_grid(browser_login, live_server, query=""):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/consensi" + query)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "← Gestione invio richieste di consenso")
    return page


def test_filter_pink_with_contains_shows_exactly_that_client(browser_login, live_server):
    page = open_grid(browser_login, live_server)
    shot(page, "grid-initial")
    page.evaluate("window.__notReloaded = true")
    expect(page.get_by_label("Confronto sul codice")).to_have_value("contiene")
    code_box = page.get_by_label("Codice", exact=True)
    code_box.click()
    code_box.press_sequentially("PIN", delay=60)
    code_box.press_sequentially("K", delay=60)
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 1 di 1")
    assert grid_codes(page) == ["PINK"]
    expect(code_box).to_be_focused()  # typing was never interrupted by the swaps
    expect(code_box).to_have_value("PINK")
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?codice=PINK")
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "grid-filtered")

    page.reload()
    expect(page.get_by_label("Codice", exact=True)).to_have_value("PINK")
    assert grid_codes(page) == ["PINK"]


def test_state_filters_and_operator_apply_in_place(browser_login, live_server):
    page = open_grid(browser_login, live_server)
    page.get_by_label("Filtra per stato richiesta").select_option("non_inviato")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 2 di 2")
    assert grid_codes(page) == ["000120", "000150"]
    page.get_by_label("Filtra per stato richiesta").select_option("tutti")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 10 di 11")
    page.get_by_label("Filtra per stato risposta").select_option("in_attesa")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 1 di 1")
    assert grid_codes(page) == ["000131"]
    page.get_by_label("Filtra per stato risposta").select_option("tutti")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 10 di 11")
    page.get_by_label("Confronto sul codice").select_option("uguale")
    page.get_by_label("Codice", exact=True).fill("000088")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 1 di 1")
    assert grid_codes(page) == ["000088"]


def test_paging_sorting_and_the_back_button(browser_login, live_server):
    with models.db.connection_context():
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 40, demo.ensure_catalogue())
    page = open_grid(browser_login, live_server)
    total = 11 + 32
    expect(page.locator("#consent-grid .pager-summary")).to_have_text(f"Elementi 1 - 10 di {total}")
    first_page = grid_codes(page)

    page.get_by_role("link", name="Pagina successiva").click()
    expect(page.locator("#consent-grid .pager-summary")).to_have_text(f"Elementi 11 - 20 di {total}")
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?pagina=2")
    second_page = grid_codes(page)
    assert not set(first_page) & set(second_page)

    page.get_by_label("Elem. pag.").select_option("25")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text(f"Elementi 1 - 25 di {total}")
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?per_pagina=25")

    page.get_by_role("link", name="Codice").click()
    expect(page.locator("th.col-codice")).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?ordina=-codice&per_pagina=25")
    codes = grid_codes(page)
    assert codes == sorted(codes, reverse=True) and codes[0] == "S000040"

    page.get_by_role("link", name="Data risposta").click()
    expect(page.locator("th.col-data_risposta")).to_have_attribute("aria-sort", "ascending")
    assert grid_codes(page)[:2] == ["000011", "002420.002420"] or grid_codes(page)[0] == "000011"
    shot(page, "grid-sorted")

    page.go_back()
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?ordina=-codice&per_pagina=25")
    expect(page.locator("th.col-codice")).to_have_attribute("aria-sort", "descending")
    assert grid_codes(page) == codes
    page.go_back()
    page.go_back()
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?pagina=2")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text(f"Elementi 11 - 20 di {total}")
    expect(page.get_by_label("Elem. pag.")).to_have_value("10")
    page.go_forward()
    expect(page.locator("#consent-grid .pager-summary")).to_have_text(f"Elementi 1 - 25 di {total}")


def test_back_button_restores_the_filters_typed_before(browser_login, live_server):
    page = open_grid(browser_login, live_server)
    page.get_by_label("Codice", exact=True).fill("000")
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?codice=000")
    page.get_by_label("Filtra per stato risposta").select_option("aderito")
    expect(page).to_have_url(
        live_server.url + "/area-personale/consensi?codice=000&stato_risposta=aderito")
    page.go_back()
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?codice=000")
    expect(page.get_by_label("Filtra per stato risposta")).to_have_value("tutti")
    expect(page.get_by_label("Codice", exact=True)).to_have_value("000")
    page.go_back()
    expect(page.get_by_label("Codice", exact=True)).to_have_value("")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 10 di 11")


def row(page, code):
    return page.locator("#consent-grid tbody tr", has=page.locator("td.col-codice", has_text=code))


def test_select_across_two_pages_then_send_to_exactly_those(browser_login, live_server):
    with models.db.connection_context():
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 20, demo.ensure_catalogue())
        far = (models.Client.select(models.Client.code)
               .where(models.Client.code.startswith("S") & consent.with_smart_service())
               .order_by(models.Client.code.desc()).scalar())
    page = open_grid(browser_login, live_server)
    page.get_by_label("Seleziona 000120").check()
    expect(page.locator(".selection-count")).to_have_text("1 cliente selezionato")
    expect(page.get_by_label("Seleziona 000120")).to_be_focused()
    page.get_by_role("link", name="Ultima pagina").click()
    expect(row(page, far)).to_be_visible()
    page.get_by_label(f"Seleziona {far}").check()
    expect(page.locator(".selection-count")).to_have_text("2 clienti selezionati")
    page.get_by_role("link", name="Pagina 1", exact=True).click()
    expect(page.get_by_label("Seleziona 000120")).to_be_checked()
    shot(page, "grid-selection")

    page.get_by_role("link", name="Invia ai selezionati (2)").click()
    panel = page.locator(".confirm-panel")
    expect(panel).to_contain_text("La richiesta sarà inviata a 2 clienti della selezione.")
    expect(panel.get_by_role("heading")).to_be_focused()
    shot(page, "grid-confirm")
    page.get_by_role("button", name="Conferma l'invio a 2 clienti").click()
    expect(page.get_by_role("status").filter(has_text="Richieste di consenso")).to_have_text(
        "Richieste di consenso: 2 inviate.")
    # the confirmation that had focus is gone: focus is on the outcome, not lost to the page
    expect(page.get_by_role("status").filter(has_text="Richieste di consenso")).to_be_focused()
    expect(page.locator(".selection-count")).to_have_text("Nessun cliente selezionato")
    shot(page, "grid-sent")
    today = page.evaluate("new Date().toLocaleDateString('it-IT', {timeZone: 'Europe/Rome', day: '2-digit', month: '2-digit', year: 'numeric'})")
    expect(row(page, "000120").locator("td.col-stato_richiesta")).to_have_text("Inviato")
    expect(row(page, "000120").locator("td.col-data_richiesta")).to_contain_text(today)
    expect(row(page, "000150").locator("td.col-stato_richiesta")).to_have_text("Non inviato")

    page.get_by_label("Filtra per stato risposta").select_option("in_attesa")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text("Elementi 1 - 3 di 3")
    sent_today = [code for code, date in zip(grid_codes(page), page.locator(
        "#consent-grid tbody td.col-data_richiesta").all_inner_texts(), strict=True) if date.startswith(today)]
    assert sorted(sent_today) == sorted(["000120", far])


def test_send_to_all_skips_those_who_consented(browser_login, live_server):
    page = open_grid(browser_login, live_server, "?per_pagina=25")
    page.get_by_role("link", name="Invia a tutti").click()
    panel = page.locator(".confirm-panel")
    expect(panel).to_contain_text("La richiesta sarà inviata a 4 clienti")
    expect(panel).to_contain_text("7 clienti hanno già acconsentito e non la riceveranno.")
    page.get_by_role("button", name="Conferma l'invio a 4 clienti").click()
    expect(page.get_by_role("status").filter(has_text="Richieste di consenso")).to_have_text(
        "Richieste di consenso: 4 inviate, 7 saltate perché hanno già acconsentito.")
    expect(page.locator(".confirm-panel")).to_have_count(0)
    for code in ("000120", "000131", "000145", "000150"):
        expect(row(page, code).locator("td.col-stato_risposta")).to_have_text("In attesa")
    expect(row(page, "PINK").locator("td.col-data_richiesta")).to_have_text("18/06/2020 11:20")
    expect(row(page, "PINK").locator("td.col-stato_risposta .state")).to_have_text("aderito")

    page.get_by_role("link", name="Invia a tutti").click()
    expect(page.locator(".confirm-panel")).to_contain_text("La richiesta sarà inviata a 4 clienti")
    page.get_by_role("link", name="Annulla").click()
    expect(page.locator(".confirm-panel")).to_have_count(0)


def test_history_opens_in_place_and_closes_back_to_the_grid(browser_login, live_server):
    page = open_grid(browser_login, live_server, "?codice=PINK")
    page.evaluate("window.__notReloaded = true")
    opener = page.get_by_role("link", name="Storico di PINK")
    opener.click()
    dialog = page.get_by_role("dialog", name="Storico del consenso · PINK")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_be_focused()
    cells = dialog.locator("tbody tr").first.locator("td")
    # issue 15: the event's scope and expiry follow its kind
    expect(cells.nth(1)).to_have_text(re.compile(r"^Consenso dato \(aderito\)"))
    expect(dialog.locator("tbody tr").nth(1).locator("td").nth(1)).to_have_text("Richiesta inviata")
    shot(page, "grid-history")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    page.get_by_role("link", name="Storico di PINK").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button", name="Chiudi").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert page.evaluate("window.__notReloaded") is True


def test_sorting_from_the_keyboard_keeps_focus_on_the_column_header(browser_login, live_server):
    page = open_grid(browser_login, live_server)
    header = page.get_by_role("link", name="Ragione sociale")
    header.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**ordina=ragione_sociale")
    expect(page.locator("th.col-ragione_sociale")).to_have_attribute("aria-sort", "ascending")
    # a keyboard user presses Enter again to reverse the order, without tabbing back from the top
    expect(page.get_by_role("link", name="Ragione sociale")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**ordina=-ragione_sociale")
    expect(page.get_by_role("link", name="Ragione sociale")).to_be_focused()


def test_paging_and_cancelling_from_the_keyboard_keep_focus_where_the_user_was(browser_login, live_server):
    with models.db.connection_context():
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 40, demo.ensure_catalogue())
    page = open_grid(browser_login, live_server)
    page.get_by_role("link", name="Pagina successiva").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#consent-grid .pager-summary")).to_contain_text("Elementi 11 - 20")
    expect(page.get_by_role("link", name="Pagina successiva")).to_be_focused()
    page.get_by_role("link", name="Ultima pagina").focus()
    page.keyboard.press("Enter")
    # the last page has no "next": focus goes to the page now shown
    expect(page.locator("#consent-grid .pager-summary")).to_contain_text("Elementi 41 - 43")
    expect(page.locator(".page-links [aria-current=page]")).to_be_focused()
    page.get_by_role("link", name="Invia a tutti").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Conferma l'invio della richiesta di consenso")).to_be_focused()
    page.get_by_role("link", name="Annulla").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Conferma l'invio della richiesta di consenso")).to_have_count(0)
    expect(page.get_by_role("link", name="Invia a tutti")).to_be_focused()


def test_every_tick_shows_the_selection_after_changes_made_for_many_rows(browser_login, live_server):
    """A box the user ticked keeps its tick through a morph whatever the server says, so
    the actions that change many rows at once must still leave every box as selected."""
    page = open_grid(browser_login, live_server)
    page.get_by_label("Seleziona 000120").check()
    expect(page.locator(".selection-count")).to_have_text("1 cliente selezionato")
    page.get_by_role("button", name="Annulla selezione").click()
    expect(page.locator(".selection-count")).to_have_text("Nessun cliente selezionato")
    expect(page.get_by_label("Seleziona 000120")).not_to_be_checked()
    page.get_by_label("Seleziona 000150").check()
    page.get_by_label("Seleziona 000150").uncheck()
    expect(page.locator(".selection-count")).to_have_text("Nessun cliente selezionato")
    page.get_by_label("Seleziona i clienti di questa pagina").check()
    expect(page.locator(".selection-count")).to_have_text("10 clienti selezionati")
    expect(page.get_by_label("Seleziona 000150")).to_be_checked()
    expect(page.get_by_label("Seleziona i clienti di questa pagina")).to_be_focused()


def test_cancelling_a_confirmation_adds_no_history_entry(browser_login, live_server):
    page = open_grid(browser_login, live_server, "?per_pagina=25")
    entries = page.evaluate("history.length")
    page.get_by_role("link", name="Invia a tutti").click()
    expect(page.locator(".confirm-panel")).to_be_visible()
    page.get_by_role("link", name="Annulla").click()
    expect(page.locator(".confirm-panel")).to_have_count(0)
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?per_pagina=25")
    assert page.evaluate("history.length") == entries


def test_cancelling_from_an_address_written_otherwise_adds_no_history_entry(browser_login, live_server):
    """An address with defaults spelt out, a bad value or a page past the end shows a grid
    the server writes another way: Annulla takes the grid's own address in its place."""
    page = open_grid(browser_login, live_server)
    for query in ("?per_pagina=10&pagina=1", "?pagina=abc", "?pagina=99999"):
        page.goto(live_server.url + "/area-personale/consensi" + query)
        entries = page.evaluate("history.length")
        page.get_by_role("link", name="Invia a tutti").click()
        expect(page.locator(".confirm-panel")).to_be_visible()
        page.get_by_role("link", name="Annulla").click()
        expect(page.locator(".confirm-panel")).to_have_count(0)
        expect(page).to_have_url(live_server.url + "/area-personale/consensi" + (
            "?pagina=2" if query == "?pagina=99999" else ""))
        assert page.evaluate("history.length") == entries, query


def test_cancelling_the_selection_from_the_keyboard_leaves_focus_on_its_outcome(browser_login, live_server):
    page = open_grid(browser_login, live_server)
    page.get_by_label("Seleziona 000120").check()
    page.get_by_role("button", name="Annulla selezione").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Selezione annullata.")).to_be_focused()
    expect(page.locator(".selection-count")).to_have_text("Nessun cliente selezionato")
