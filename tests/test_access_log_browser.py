"""The access logs in a real browser: the period filters in place, the CSV follows the filters."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from smart_helpers import client, set_option7, set_switch, user

import italian
import models
import smart_access

pytestmark = pytest.mark.browser


def test_admin_narrows_the_log_to_a_period_and_exports_it(browser_login, live_server):
    with models.db.connection_context():
        set_option7(on=True)
        set_switch("operatore1")
        op1 = user("operatore1")
        decision = smart_access.check(op1, client("PINK"), None)
        assert decision.allowed
        for _ in range(2):  # two hand-offs whose tokens never reached the service
            smart_access.record_access(op1, client("PINK").id, 1, decision, token_ref=None)
    today = italian.to_rome(models.utcnow()).date()
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/accessi-smart")
    rows = page.locator("#access-log tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Non usato")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Dal").fill((today + dt.timedelta(days=1)).isoformat())
    expect(page.locator("#access-log")).to_contain_text("Nessun accesso registrato con questi filtri")
    expect(page).to_have_url(re.compile(r"dal=" + str(today + dt.timedelta(days=1))))
    page.get_by_label("Dal").fill(today.isoformat())
    expect(rows).to_have_count(2)
    expect(page.locator("#access-log-csv")).to_have_attribute("href", re.compile(r"dal=" + str(today)))
    with page.expect_download() as download:
        page.locator("#access-log-csv").click()
    lines = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert len(lines) == 3 and lines[1].split(";")[6] == "Non usato"
    assert page.evaluate("window.__notReloaded") is True
