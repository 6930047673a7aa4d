"""Testi del consenso: every version of the text clients were shown, and the links to it from the Storico."""

from __future__ import annotations

import pytest
from conftest import htmx_headers, login_as, parse, visible_text
from peewee import fn

import consent
import consent_wordings
from models import Client, ConsentEvent, ConsentText, User

URL = "/area-personale/consensi/testi"


def sections(page):
    return {section["id"]: section for section in page.select("section.consent-wording")}


def test_every_version_is_shown_in_full_with_its_period(app, db):
    page = parse(login_as(app, "admin").get(URL))
    shown = sections(page)
    assert set(shown) == {f"versione-{t.version}" for t in ConsentText.select()}
    modal = next(s for s in shown.values() if consent.MODAL_TITLE in visible_text(s))
    text = visible_text(modal)
    assert "Finestra di consenso all'accesso" in visible_text(modal.find("h2"))
    for line in (consent.MODAL_INTRO, consent.MODAL_YES, consent.MODAL_NO, consent.MODAL_REMINDER):
        assert line in text
    assert "è il testo che questa schermata mostra oggi" in visible_text(modal.select_one(".wording-period"))
    assert visible_text(page.find("h1")).endswith("Testi del consenso")


def test_a_replaced_version_says_until_when_it_was_in_use(app, db, monkeypatch):
    pink = Client.get(Client.code == "PINK")
    old = consent.wording("modal")
    monkeypatch.setitem(consent.WORDINGS, "modal", (consent.MODAL_TITLE, consent.MODAL_BODY + "\nNuova frase."))
    new = consent.wording("modal")
    assert new.version > old.version
    consent.set_authorization(pink, User.get(User.client == pink), False)
    by_version = {w.version: w for w in consent_wordings.wordings()}
    assert by_version[old.version].until == new.created_at and not by_version[old.version].current
    assert by_version[new.version].until is None and by_version[new.version].current
    page = parse(login_as(app, "admin").get(URL))
    period = visible_text(sections(page)[f"versione-{old.version}"].select_one(".wording-period"))
    assert period.startswith("In uso dal ") and " al " in period
    assert "Nuova frase." in visible_text(sections(page)[f"versione-{new.version}"])


def test_the_storico_links_each_version_to_its_text(app, db):
    admin = login_as(app, "admin")
    pink = Client.get(Client.code == "PINK")
    history = parse(admin.get(f"/area-personale/consensi/{pink.id}/storia",
                              headers=htmx_headers("consent-history")))
    links = history.select("#consent-history td.col-text a")
    assert links and all(a["href"].startswith(URL + "#versione-") for a in links)
    page = parse(admin.get(URL))
    for link in links:
        assert page.find(id=link["href"].split("#")[1]) is not None
    grid = parse(admin.get("/area-personale/consensi"))
    assert grid.find("a", href=URL) is not None


@pytest.mark.parametrize("username, status", [("operatore1", 403), ("pink", 403), ("admin.alt", 200)])
def test_the_texts_are_for_administrators(app, db, username, status):
    assert login_as(app, username).get(URL).status_code == status


def test_no_event_points_at_a_version_stored_after_it(db):
    """The demo's consents of 2020 were given on wordings in use since then, not since the
    day the demo was loaded: each version's period covers the events that point at it."""
    later = (ConsentEvent.select(ConsentEvent.id)
             .join(ConsentText, on=ConsentEvent.consent_text == ConsentText.id)
             .where(ConsentText.created_at > ConsentEvent.created_at))
    assert ConsentEvent.select().where(ConsentEvent.consent_text.is_null(False)).count() > 0
    assert list(later) == []
    first = ConsentEvent.select(fn.MIN(ConsentEvent.created_at)).scalar()
    assert ConsentText.select(fn.MIN(ConsentText.created_at)).scalar() <= first
