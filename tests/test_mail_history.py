"""A client's Storico with its e-mail (issue 14, part 6): its address, the mail sent to it
with each delivery's state, reminders, and the changes to its record, in time order."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import htmx_headers, login_as, parse, visible_text

import consent
import models
from models import Client, ClientChange, OutboxMessage, Studio, User

URL = "/area-personale/consensi"
T0 = dt.datetime(2026, 11, 2, 8, 15)  # 000131's request in the demo: 02/11/2026 09:15 in Rome


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


def history(user, code):
    with models.db.connection_context():
        client_id = Client.get(Client.code == code).id
    page = parse(user.get(f"{URL}/{client_id}/storia", headers=htmx_headers("consent-history")))
    rows = [[visible_text(td) for td in tr.find_all("td")]
            for tr in page.select("#consent-history tbody tr")]
    return page, rows


def mail(code, kind, status="queued", minutes=0, reply=None):
    client = Client.get(Client.code == code)
    at = T0 + dt.timedelta(minutes=minutes)
    OutboxMessage.create(studio=client.studio_id, kind=kind, recipient=client.email,
                         client=client.id, status=status, reply=reply, next_attempt_at=at,
                         created_at=at, sent_at=at if status == "sent" else None)


def test_the_storico_shows_the_clients_address(admin, db):
    page, _ = history(admin, "000131")
    assert visible_text(page.select_one(".history-email")) == "E-mail: 000131@clienti.example"
    Client.update(email=None).where(Client.code == "000131").execute()
    page, _ = history(admin, "000131")
    assert visible_text(page.select_one(".history-email")) == "E-mail: non indicata"


def test_the_mail_sent_to_the_client_with_its_delivery_in_time_order(admin, db):
    mail("000131", "consent_request", "sent", 0, "250 2.0.0 Ok: queued as 1A2B")
    mail("000131", "reminder", "failed", 60 * 24 * 7,
         "Rifiutata dal server di posta: 550 5.1.1 No such user")
    mail("000131", "reminder", "queued", 60 * 24 * 14)
    mail("000131", "revocation", "sent", 60 * 24 * 15)  # to the admin: not the client's mail
    mail("000145", "reminder", "sent", 60 * 24 * 15)  # another client's
    _, rows = history(admin, "000131")
    assert [row[:3] for row in rows] == [
        ["16/11/2026 09:15", "Promemoria inviato", "E-mail a 000131@clienti.example · in coda"],
        ["09/11/2026 09:15", "Promemoria inviato",
         "E-mail a 000131@clienti.example · in errore: Rifiutata dal server di posta: 550 5.1.1 "
         "No such user"],
        # a sending's message comes after its request, at the same moment
        ["02/11/2026 09:15", "E-mail della richiesta di consenso",
         "E-mail a 000131@clienti.example · consegnata al server di posta"],
        ["02/11/2026 09:15", "Richiesta inviata", "Invio dell'amministratore"],
    ]
    assert rows[0][3] == "" and rows[0][4] == ""  # sent by the portal, no consent text


def test_a_reminder_from_the_grid_is_in_the_storico_and_keeps_the_request_date(admin, db):
    studio = Studio.get(Studio.code == "BPF103")
    consent.remind_confirmed(studio.id, User.get(User.username == "admin"), consent.SEND_ALL,
                             "key", 1, at=T0 + dt.timedelta(days=3))
    page, rows = history(admin, "000131")
    assert rows[0][:2] == ["05/11/2026 09:15", "Promemoria inviato"]
    assert "richiesta inviata il 02/11/2026 09:15" in visible_text(page.select_one(".history-now"))


def test_the_changes_to_the_clients_record(admin, db):
    client = Client.get(Client.code == "000131")
    admin_user = User.get(User.username == "admin")
    ClientChange.create(studio=client.studio_id, client=client.id, actor=admin_user.id,
                        source="anagrafica", field="services", old_value="Fattura SMART",
                        new_value="Fattura SMART, SMART Hub", created_at=T0 + dt.timedelta(days=1))
    ClientChange.create(studio=client.studio_id, client=client.id, actor=None, source="import",
                        field="email", old_value=None, new_value="nuovo@clienti.example",
                        created_at=T0 - dt.timedelta(days=1))
    _, rows = history(admin, "000131")
    assert rows == [
        ["03/11/2026 09:15", "Servizi SMART: Fattura SMART → Fattura SMART, SMART Hub",
         "Anagrafica clienti", "Mario Amministratore (admin)", ""],
        ["02/11/2026 09:15", "Richiesta inviata", "Invio dell'amministratore",
         "Mario Amministratore (admin)", "versione 1"],
        ["01/11/2026 09:15", "E-mail: — → nuovo@clienti.example", "Importazione da file", "", ""],
    ]


def test_another_studio_never_sees_the_mail(app, db):
    mail("000131", "reminder", "sent", 0)
    other = login_as(app, "admin.alt")
    with models.db.connection_context():
        client_id = Client.get(Client.code == "000131").id
    response = other.get(f"{URL}/{client_id}/storia", headers=htmx_headers("consent-history"))
    assert response.status_code == 404
    assert "000131@clienti.example" not in response.get_data(as_text=True)
