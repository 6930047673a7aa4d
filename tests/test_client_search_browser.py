"""'Cerca cliente' in a real browser: typed in the grid, as a person would."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_typing_caffe_in_the_grid_finds_caffe_centrale(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/consensi")
    box = page.get_by_placeholder("Cerca cliente")
    expect(box).to_be_visible()
    box.click()
    box.press_sequentially("caffe", delay=60)
    summary = page.locator("#consent-grid .pager-summary")
    expect(summary).to_have_text("Elementi 1 - 1 di 1")
    expect(page.locator("#consent-grid tbody td.col-ragione_sociale")).to_have_text(
        ["Caffè Centrale di Neri Luca"])
    expect(box).to_be_focused()
    expect(page).to_have_url(live_server.url + "/area-personale/consensi?cerca=caffe")

    box.fill("")
    box.press_sequentially("0987654058", delay=30)  # its partita IVA
    expect(page.locator("#consent-grid tbody td.col-codice")).to_have_text(["000004"])

    box.press_sequentially("9", delay=30)
    expect(summary).to_have_text("Nessun elemento")
    expect(page.locator("#consent-grid tbody")).to_contain_text("Nessun cliente corrisponde ai filtri.")
