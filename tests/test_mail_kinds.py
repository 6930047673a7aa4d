"""The mail of reminders, revocations and the daily summary as it reaches a real SMTP
server (issue 14, part 5): who gets it, its subject, its Italian text and HTML, its link."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import login_as

import consent
import mail
import mail_rules
import models
from models import Client, OutboxMessage, Studio, User

NOW = dt.datetime(2026, 11, 30, 9, 0)


@pytest.fixture
def studio(mail_app):
    with mail_app.app_context(), models.db.connection_context():
        yield Studio.get(Studio.code == "BPF103")


def deliver():
    outcome = mail.deliver_due(now=NOW + dt.timedelta(days=2))
    assert outcome.failed == 0 and outcome.retried == 0, outcome
    return outcome


def test_a_reminder_mail_links_to_the_portal(studio, smtp_server):
    admin = User.get(User.username == "admin")
    consent.remind_confirmed(studio.id, admin, consent.SEND_ALL, "key", 1, at=NOW)
    deliver()
    [received] = smtp_server.to("000131@clienti.example")
    assert received.message["Subject"] == (
        f"{studio.name}: promemoria, attendiamo la tua risposta sui Servizi SMART")
    text = received.part("text/plain")
    assert "Gentile Cliente Gelateria Bianchi di Bianchi Anna," in text
    assert "attende la tua risposta" in text and "inviata il 02/11/2026 09:15" in text
    assert "http://127.0.0.1:8000/" in text
    assert 'href="http://127.0.0.1:8000/"' in received.part("text/html")
    assert OutboxMessage.get(OutboxMessage.kind == "reminder").status == "sent"


def test_a_revocation_mail_reaches_the_administrator(studio, smtp_server):
    pink = Client.get(Client.code == "PINK")
    consent.set_authorization(pink, User.get(User.client == pink), False, at=NOW)
    deliver()
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["admin@studio.example"]
    assert received.message["Subject"] == "Pink S.r.l. (PINK) ha revocato il consenso ai Servizi SMART"
    text = received.part("text/plain")
    assert "Gentile Mario Amministratore," in text
    assert "il cliente Pink S.r.l. (codice PINK) ha revocato il consenso" in text
    assert "il 30/11/2026 10:00" in text
    assert "http://127.0.0.1:8000/area-personale/consensi" in text
    assert "Puoi disattivarlo" in received.part("text/html")


def test_the_daily_summary_mail(studio, smtp_server):
    rules = mail_rules.rules_of(studio.id)
    mail_rules.save_rules(studio.id, mail_rules.MailRules(**{**rules.__dict__, "daily_summary": True}))
    client = Client.get(Client.code == "000131")
    consent.answer_request(client, User.get(User.client == client), accept=False,
                           at=NOW - dt.timedelta(hours=20))
    assert mail_rules.run_daily(NOW) == {"reminder": 0, "daily_summary": 1}
    deliver()
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["admin@studio.example"]
    assert received.message["Subject"].endswith(
        ": risposte alle richieste di consenso del 29/11/2026")
    text = received.part("text/plain").replace("\r\n", "\n")
    assert "- hanno acconsentito: 0\n- non hanno acconsentito: 1\n- hanno revocato il consenso: 0" in text
    assert "Non hanno acconsentito" in received.part("text/html")


def test_unticking_altri_dati_wakes_the_worker_and_the_notice_goes_at_once(
        mail_app, smtp_server, immediate_queue):
    pink = login_as(mail_app, "pink")
    response = pink.post("/area-personale/altri-dati", data={"autorizzo": "0"})
    assert response.status_code in (200, 302)
    assert [m.rcpt_tos for m in smtp_server.messages] == [["admin@studio.example"]]
    assert "ha revocato il consenso" in smtp_server.messages[0].message["Subject"]
