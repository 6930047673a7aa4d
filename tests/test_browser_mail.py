"""The consent page's mail in a real browser: a reminder confirmed in place, then the
delivery's progress updated by polling until nothing is queued; the mail rules saved in place."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import models
from models import OutboxMessage, Studio, StudioSettings

pytestmark = pytest.mark.browser


def open_consent_page(browser_login, live_server):
    page = browser_login("admin")
    page.goto(live_server.url + "/area-personale/consensi")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "← Gestione invio richieste di consenso")
    return page


def test_a_reminder_confirmed_in_place_then_its_delivery_polled(browser_login, live_server):
    page = open_consent_page(browser_login, live_server)
    page.evaluate("window.__notReloaded = true")
    progress = page.locator("#mail-progress")
    expect(progress).to_have_text("")
    page.get_by_role("link", name="Promemoria a tutti in attesa").click()
    panel = page.locator(".confirm-panel")
    expect(panel.get_by_role("heading")).to_have_text("Conferma l'invio del promemoria")
    expect(panel).to_contain_text(
        "Il promemoria sarà inviato per e-mail a 1 cliente in attesa di risposta.")
    expect(page.get_by_role("heading", name="Conferma l'invio del promemoria")).to_be_focused()
    expect(page).to_have_url(live_server.url + "/area-personale/consensi")  # address unchanged
    page.get_by_role("button", name="Conferma il promemoria a 1 cliente").click()
    expect(page.locator("#consent-grid .message-success")).to_have_text(
        "Promemoria inviato per e-mail a 1 cliente.")
    expect(panel).to_have_count(0)
    # The answer told the progress region, which now polls the new delivery.
    expect(progress).to_have_text("E-mail: 0 di 1 consegnate · invio in corso")
    expect(progress).to_have_attribute("hx-trigger", "every 3s, mail-queued from:document")
    with models.db.connection_context():
        OutboxMessage.update(status="sent", sent_at=models.utcnow()).where(
            OutboxMessage.kind == "reminder").execute()  # as the worker would
    expect(progress).to_have_text("E-mail: 1 di 1 consegnate", timeout=10_000)
    expect(progress).to_have_attribute("hx-trigger", "mail-queued from:document")
    assert page.evaluate("window.__notReloaded") is True


def test_the_mail_rules_are_saved_in_place_and_a_bad_value_is_explained(browser_login, live_server):
    page = open_consent_page(browser_login, live_server)
    page.get_by_label("Invia un promemoria ai clienti che non hanno ancora risposto").check()
    page.get_by_label("Dopo quanti giorni senza risposta").fill("0")
    page.get_by_role("button", name="Salva le regole").click()
    expect(page.locator("#mail-rules-error")).to_have_text(
        "Dopo quanti giorni: indica un numero intero di giorni tra 1 e 365.")
    expect(page.get_by_label("Invia un promemoria ai clienti che non hanno ancora risposto")).to_be_checked()
    page.get_by_label("Dopo quanti giorni senza risposta").fill("10")
    page.get_by_role("button", name="Salva le regole").click()
    expect(page.locator("#mail-rules-status")).to_have_text("Salvato")
    expect(page.locator("#mail-rules-error")).to_have_count(0)
    with models.db.connection_context():
        row = StudioSettings.get(StudioSettings.studio == Studio.get(Studio.code == "BPF103"))
        assert (row.reminder_enabled, row.reminder_after_days) == (True, 10)
