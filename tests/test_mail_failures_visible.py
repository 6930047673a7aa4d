"""SMTP failures are visible (walk-through of issue 14): the worker logs a warning for a
batch that did not go, with the reason, and the client's Storico says a queued message's
last attempt failed, and why."""

from __future__ import annotations

import logging

from conftest import htmx_headers, login_as, parse, visible_text

import consent
import consent_history
import mail
import models
from models import Client, OutboxMessage, User


def send_to_all(app):
    with app.app_context(), models.db.connection_context():
        admin = User.get(User.username == "admin")
        consent.send_requests(admin.studio_id, admin, batch="invio-1")


def deliver(app):
    with app.app_context(), models.db.connection_context():
        return mail.deliver_due()


def test_a_server_down_is_logged_with_the_reason(mail_app, smtp_server, caplog):
    send_to_all(mail_app)
    smtp_server.stop()
    with caplog.at_level(logging.WARNING, logger="mail"):
        outcome = deliver(mail_app)
    assert outcome.sent == 0 and outcome.retried == 4
    [record] = [r for r in caplog.records if r.name == "mail"]
    assert record.levelno == logging.WARNING
    assert "4 message(s) not sent" in record.getMessage()
    assert "Server di posta non raggiungibile" in record.getMessage()


def test_refused_messages_of_a_batch_are_logged(mail_app, smtp_server, caplog):
    send_to_all(mail_app)
    smtp_server.refuse("000131@clienti.example", "550 5.1.1 No such user")
    with caplog.at_level(logging.WARNING, logger="mail"):
        outcome = deliver(mail_app)
    assert outcome.sent == 3 and outcome.failed == 1
    [record] = [r for r in caplog.records if r.name == "mail"]
    assert "1 of 4 message(s) of a batch not delivered" in record.getMessage()
    assert "550 5.1.1 No such user" in record.getMessage()


def test_a_delivered_batch_logs_no_warning(mail_app, smtp_server, caplog):
    send_to_all(mail_app)
    with caplog.at_level(logging.WARNING, logger="mail"):
        assert deliver(mail_app).sent == 4
    assert not [r for r in caplog.records if r.name == "mail"]


def test_the_delivery_state_of_a_queued_message_after_a_failed_attempt():
    assert consent_history.delivery_state("queued", None) == "in coda"
    assert consent_history.delivery_state(
        "queued", "Server di posta non raggiungibile: Connection refused") == (
        "in coda — ultimo tentativo non riuscito: Server di posta non raggiungibile: "
        "Connection refused")


def test_the_storico_shows_the_failed_attempt_of_a_queued_message(mail_app, smtp_server):
    send_to_all(mail_app)
    smtp_server.stop()
    deliver(mail_app)
    with models.db.connection_context():
        client_id = Client.get(Client.code == "000131").id
        reason = OutboxMessage.get(OutboxMessage.client == client_id).reply
    assert reason.startswith("Server di posta non raggiungibile")
    page = parse(login_as(mail_app, "admin").get(
        f"/area-personale/consensi/{client_id}/storia", headers=htmx_headers("consent-history")))
    rows = [visible_text(tr) for tr in page.select("#consent-history tbody tr")]
    assert any(f"E-mail a 000131@clienti.example · in coda — ultimo tentativo non riuscito: "
               f"{reason}" in row for row in rows), rows
