"""The consent page's studio rule "Durata del consenso" (issue 15): the form, its save, its audit."""

import pytest
from conftest import htmx_headers, login_as, parse, visible_text

import audit
import models
from models import Client, Studio, StudioSettings

URL = "/area-personale/consensi"
DURATION_URL = URL + "/durata"


def saved_months(studio_code="BPF103"):
    with models.db.connection_context():
        studio = Studio.get(Studio.code == studio_code)
        return StudioSettings.get(StudioSettings.studio == studio).consent_months


def duration_form(page):
    select = page.select_one("#consent-duration select[name=durata]")
    label = page.select_one("label[for=consent-months]")
    return (visible_text(label),
            [visible_text(option) for option in select.select("option")],
            visible_text(select.select_one("option[selected]")))


def test_the_page_offers_the_durations_senza_scadenza_first(app, db):
    page = parse(login_as(app, "admin").get(URL))
    assert duration_form(page) == (
        "Durata del consenso",
        ["Senza scadenza", "12 mesi", "24 mesi", "36 mesi", "48 mesi"], "Senza scadenza")


def test_saving_12_months_expires_the_old_consents_at_once_and_is_audited(app, db):
    admin = login_as(app, "admin")
    response = admin.post(DURATION_URL, data={"durata": "12"}, headers=htmx_headers("consent-duration"))
    assert response.status_code == 204 and response.headers["HX-Redirect"] == URL
    assert saved_months() == 12
    assert saved_months("ALT001") is None
    page = parse(admin.get(URL))
    assert duration_form(page)[2] == "12 mesi"
    # the seven consents of 2020 of the demo studio are older than a year
    assert "Durata del consenso: 12 mesi. 7 consensi sono scaduti ora." in visible_text(page)
    with models.db.connection_context():
        assert Client.select().where(Client.consent_answer == "expired").count() == 7
        [event] = models.AuditEvent.select().where(models.AuditEvent.kind == "settings_changed")
        assert audit.describe(event) == ["opzione: Durata del consenso", "valore: 12 mesi"]


def test_back_to_senza_scadenza(app, db):
    admin = login_as(app, "admin")
    admin.post(DURATION_URL, data={"durata": "24"})
    response = admin.post(DURATION_URL, data={"durata": ""})
    assert response.status_code == 302
    assert saved_months() is None
    assert "Durata del consenso: senza scadenza." in visible_text(parse(admin.get(URL)))


@pytest.mark.parametrize("value", ["13", "abc", "-12", "9" * 200])
def test_a_duration_not_offered_is_refused_in_place_and_changes_nothing(app, db, value):
    admin = login_as(app, "admin")
    response = admin.post(DURATION_URL, data={"durata": value}, headers=htmx_headers("consent-duration"))
    assert response.status_code == 422
    page = parse(response)
    assert page.find("html") is None
    assert visible_text(page.select_one("#consent-duration-error")) == (
        "Scegli una durata del consenso tra quelle proposte.")
    assert duration_form(page)[2] == "Senza scadenza"
    assert saved_months() is None
    without_htmx = admin.post(DURATION_URL, data={"durata": value})
    assert without_htmx.status_code == 422 and parse(without_htmx).select_one("#consent-duration-error")


def test_a_form_without_the_duration_changes_nothing(app, db):
    admin = login_as(app, "admin")
    admin.post(DURATION_URL, data={"durata": "12"})
    response = admin.post(DURATION_URL, data={}, headers=htmx_headers("consent-duration"))
    assert response.status_code == 422
    assert saved_months() == 12  # never read as "Senza scadenza"


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_only_the_administrator_sets_the_duration(app, db, username):
    assert login_as(app, username).post(DURATION_URL, data={"durata": "12"}).status_code == 403
    assert saved_months() is None
