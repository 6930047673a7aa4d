"""Where the campaign stands, in Chromium: the chart drawn with its table, the counts that
filter the grid, and "Esporta" downloading the filtered grid."""

from __future__ import annotations

import io
import os

import openpyxl
import pytest
from playwright.sync_api import expect

import consent_campaign
import models
from models import Client, ConsentEvent, User

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("GRID_SCREENSHOTS")  # a folder: save screenshots there to look at
URL = "/area-personale/consensi"


def open_page(browser_login, live_server, query=""):
    page = browser_login("admin")
    page.goto(live_server.url + URL + query)
    expect(page.get_by_role("heading", level=2, name="A che punto è la campagna")).to_be_visible()
    return page


def test_the_chart_is_drawn_with_its_table(browser_login, live_server):
    with models.db.connection_context():  # an answer this week
        pink = Client.get(Client.code == "PINK")
        ConsentEvent.create(studio=pink.studio_id, client=pink, kind="granted", channel="modal",
                            actor=User.get(User.username == "pink"))
        this_week = consent_campaign.weekly_answers(pink.studio_id)[-1]
    page = open_page(browser_login, live_server)
    chart = page.get_by_role("img", name="Risposte per settimana, ultimi 12 mesi")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 80
    lines = page.locator(".campaign svg polyline")
    expect(lines).to_have_count(3)
    # The lines are coloured by the stylesheet (nothing inline): not black, not filled.
    colours = [line.evaluate("el => getComputedStyle(el).stroke") for line in lines.all()]
    assert len(set(colours)) == 3 and "rgb(0, 0, 0)" not in colours
    assert lines.first.evaluate("el => getComputedStyle(el).fill") == "none"
    table = page.locator(".campaign details table")
    expect(table).to_be_hidden()
    page.get_by_text("Dati del grafico in tabella").click()
    expect(table).to_be_visible()
    expect(table.locator("tbody tr").last.locator("th")).to_have_text(this_week.label)
    expect(table.locator("tbody tr").last.locator("td").first).to_have_text(
        str(this_week.counts[0]))
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, "campaign.png"), full_page=True)


def test_a_count_opens_the_grid_filtered_on_its_state(browser_login, live_server):
    page = open_page(browser_login, live_server)
    waiting = page.locator(".campaign-in_attesa a")
    number = waiting.locator(".campaign-count").inner_text()
    waiting.click()
    expect(page).to_have_url(live_server.url + URL + "?stato_risposta=in_attesa")
    expect(page.get_by_label("Filtra per stato risposta")).to_have_value("in_attesa")
    expect(page.locator("#consent-grid .pager-summary")).to_have_text(
        f"Elementi 1 - {number} di {number}")


def test_esporta_downloads_the_filtered_grid(browser_login, live_server):
    page = open_page(browser_login, live_server)
    page.get_by_label("Filtra per stato risposta").select_option("aderito")
    expect(page).to_have_url(live_server.url + URL + "?stato_risposta=aderito")
    with page.expect_download() as download:
        page.get_by_role("link", name="Esporta in Excel (XLSX)").click()
    data = open(download.value.path(), "rb").read()
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "Codice" and rows[1:]
    assert {row[7] for row in rows[1:]} == {"aderito"}
    total = page.locator("#consent-grid .pager-summary").inner_text().rsplit(" ", 1)[1]
    assert len(rows) - 1 == int(total)


def test_a_storicos_version_link_shows_which_text_it_opened(browser_login, live_server):
    """Testi del consenso opened at one version (a Storico's "versione N") marks that one."""
    page = browser_login("admin")
    page.goto(live_server.url + URL + "/testi#versione-1")
    opened, other = page.locator("#versione-1"), page.locator("#versione-2")
    expect(opened).to_be_visible()
    background = "el => getComputedStyle(el).backgroundColor"
    assert opened.evaluate(background) != other.evaluate(background)
    assert other.evaluate(background) == "rgba(0, 0, 0, 0)"
