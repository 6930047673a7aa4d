"""The consent grid in a real browser: filtering as you type, paging, sorting, back button."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

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
    expect(page.locator(".grid-summary")).to_have_text("Elementi 1 - 1 di 1")
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
    expect(page.locator(".grid-summary")).to_have_text("Elementi 1 - 2 di 2")
    assert grid_codes(page) == ["000120", "000150"]
    page.get_by_label("Filtra per stato richiesta").select_option("tutti")
    expect(page.locator(".grid-summary")).to_have_text("Elementi 1 - 10 di 11")
    page.get_by_label("Filtra per stato risposta").select_option("in_attesa")
    expect(page.locator(".grid-summary")).to_have_text("Elementi 1 - 1 di 1")
    assert grid_codes(page) == ["000131"]
    page.get_by_label("Filtra per stato risposta").select_option("tutti")
    expect(page.locator(".grid-summary")).to_have_text("Elementi 1 - 10 di 11")
    page.get_by_label("Confronto sul codice").select_option("uguale")
    page.get_by_label("Codice", exact=True).fill("000088")
    expect(page.locator(".grid-summary")).to_have_text("Elementi 1 - 1 di 1")
    assert grid_codes(page) == ["000088"]


def test_paging_sorting_and_the_back_button(browser_login, live_server):
    with models.db.connection_context():
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 40, demo.ensure_catalogue())
    page = open_grid(browser_login, live_server)
    total = 11 + 32
    expect(page.locator(".grid-summary")).to_have_text(f"Elementi 1 - 10 di {total}")
    first_page = grid_codes(page)

    page.get_by_role("link", name="Pagina successiva").click()
    expect(page.locator(".grid-summary")).to_have_text(f"Elementi 11 - 20 di {total}")
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?pagina=2")
    second_page = grid_codes(page)
    assert not set(first_page) & set(second_page)

    page.get_by_label("Elem. pag.").select_option("25")
    expect(page.locator(".grid-summary")).to_have_text(f"Elementi 1 - 25 di {total}")
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
    expect(page.locator(".grid-summary")).to_have_text(f"Elementi 11 - 20 di {total}")
    expect(page.get_by_label("Elem. pag.")).to_have_value("10")
    page.go_forward()
    expect(page.locator(".grid-summary")).to_have_text(f"Elementi 1 - 25 di {total}")


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
    expect(page.locator(".grid-summary")).to_have_text("Elementi 1 - 10 di 11")
