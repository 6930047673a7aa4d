"""Delivering the outbox (issue 14): each outcome of a message at the SMTP server, with a real
server in the tests (aiosmtpd): sent with the server's answer, 4xx and unreachable server retried
with growing delays, 5xx failed at once, given up after 24 hours; one connection per batch;
a lease that outlives a dead worker."""

from __future__ import annotations

import datetime as dt

import pytest

import consent
import mail
import models
from models import OutboxMessage, User, utcnow


def send_to_all(app):
    with app.app_context(), models.db.connection_context():
        admin = User.get(User.username == "admin")
        consent.send_requests(admin.studio_id, admin, batch="invio-1")


def rows():
    with models.db.connection_context():
        return {row.recipient: row for row in OutboxMessage.select().order_by(OutboxMessage.id)}


def deliver(app, **options):
    with app.app_context(), models.db.connection_context():
        return mail.deliver_due(**options)


RECIPIENTS = ["000120@clienti.example", "000131@clienti.example", "000145@clienti.example",
              "000150@clienti.example"]


def test_each_message_is_delivered_once_and_marked_sent_with_the_servers_answer(mail_app, smtp_server):
    send_to_all(mail_app)
    outcome = deliver(mail_app)
    assert (outcome.sent, outcome.retried, outcome.failed) == (4, 0, 0)
    assert sorted(m.to for m in smtp_server.messages) == RECIPIENTS
    found = rows()
    for number, received in enumerate(smtp_server.messages, start=1):
        row = found[received.to]
        assert row.status == "sent" and row.sent_at is not None and row.claimed_until is None
        assert row.reply == f"250 Accepted as message {number}"
        assert received.message_id == f"<outbox-{row.id}@127.0.0.1>"
    assert deliver(mail_app).sent == 0  # nothing twice
    assert len(smtp_server.messages) == 4


def test_a_refused_recipient_5xx_fails_at_once_with_the_reason(mail_app, smtp_server):
    smtp_server.refuse("000131@clienti.example", "550 5.1.1 Mailbox unknown")
    send_to_all(mail_app)
    outcome = deliver(mail_app)
    assert (outcome.sent, outcome.retried, outcome.failed) == (3, 0, 1)
    row = rows()["000131@clienti.example"]
    assert row.status == "failed" and row.sent_at is None
    assert row.reply == "Rifiutata dal server di posta: 550 5.1.1 Mailbox unknown"
    # the others went over the same connection, after the refusal
    assert sorted(m.to for m in smtp_server.messages) == [
        r for r in RECIPIENTS if r != "000131@clienti.example"]
    assert deliver(mail_app, now=utcnow() + dt.timedelta(days=2)).failed == 0  # never again


def test_a_temporary_refusal_4xx_is_retried_with_growing_delays(mail_app, smtp_server):
    smtp_server.refuse("000131@clienti.example", "451 4.7.1 Try again later")
    send_to_all(mail_app)
    start = utcnow()
    assert deliver(mail_app, now=start).retried == 1
    row = rows()["000131@clienti.example"]
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.reply == "Rinviata dal server di posta: 451 4.7.1 Try again later"
    assert row.next_attempt_at == start + dt.timedelta(minutes=1)
    # not before its time
    assert deliver(mail_app, now=start + dt.timedelta(seconds=59)).retried == 0
    delays = []
    clock = start
    for _ in range(8):
        clock = rows()["000131@clienti.example"].next_attempt_at
        assert deliver(mail_app, now=clock).retried == 1
        delays.append(rows()["000131@clienti.example"].next_attempt_at - clock)
    assert [d.total_seconds() / 60 for d in delays] == [2, 4, 8, 16, 32, 60, 60, 60]
    # the server accepts it again: it goes, once
    smtp_server.refusals.clear()
    clock = rows()["000131@clienti.example"].next_attempt_at
    assert deliver(mail_app, now=clock).sent == 1
    assert rows()["000131@clienti.example"].status == "sent"
    assert len(smtp_server.to("000131@clienti.example")) == 1


def test_temporary_failures_give_up_after_24_hours(mail_app, smtp_server):
    smtp_server.refuse("000131@clienti.example", "452 4.2.2 Mailbox full")
    send_to_all(mail_app)
    created = rows()["000131@clienti.example"].created_at
    assert deliver(mail_app, now=created + dt.timedelta(hours=23, minutes=59)).retried == 1
    assert rows()["000131@clienti.example"].status == "queued"
    outcome = deliver(mail_app, now=created + dt.timedelta(hours=25))
    assert outcome.failed == 1
    row = rows()["000131@clienti.example"]
    assert row.status == "failed"
    assert row.reply == ("Non consegnata dopo 24 ore di tentativi. Ultimo errore: Rinviata dal "
                         "server di posta: 452 4.2.2 Mailbox full")


def test_the_server_down_then_back_everything_goes(mail_app, smtp_server):
    send_to_all(mail_app)
    smtp_server.stop()
    start = utcnow()
    outcome = deliver(mail_app, now=start)
    assert (outcome.sent, outcome.retried) == (0, 4)
    assert {r.status for r in rows().values()} == {"queued"}
    assert all(r.reply.startswith("Server di posta non raggiungibile: ") for r in rows().values())
    assert deliver(mail_app, now=start + dt.timedelta(minutes=1)).retried == 4  # still down
    smtp_server.start()
    assert deliver(mail_app, now=start + dt.timedelta(minutes=2)).sent == 0  # not due yet
    assert deliver(mail_app, now=start + dt.timedelta(minutes=3)).sent == 4
    assert sorted(m.to for m in smtp_server.messages) == RECIPIENTS
    assert {r.status for r in rows().values()} == {"sent"}


def test_a_batch_goes_over_one_connection(mail_app, smtp_server, monkeypatch):
    opened = []
    original = mail.smtp_connection

    def counting():
        opened.append(1)
        return original()

    monkeypatch.setattr(mail, "smtp_connection", counting)
    mail_app.config["MAIL_BATCH_SIZE"] = 3
    send_to_all(mail_app)
    assert deliver(mail_app).sent == 4
    assert len(opened) == 2  # a batch of 3, then one of 1


def test_a_claimed_message_waits_for_the_lease_then_goes_with_the_same_message_id(mail_app, smtp_server):
    """A worker died after claiming (and perhaps sending): its rows go again after the lease."""
    send_to_all(mail_app)
    start = utcnow()
    with mail_app.app_context(), models.db.connection_context():
        claimed = mail.claim_batch(start)  # ...and the worker is killed here
    assert len(claimed) == 4
    assert deliver(mail_app, now=start + dt.timedelta(seconds=10)).sent == 0  # held by the lease
    lease = mail_app.config["MAIL_LEASE_SECONDS"]
    assert deliver(mail_app, now=start + dt.timedelta(seconds=lease + 1)).sent == 4
    by_row = {row.id: row for row in rows().values()}
    assert sorted(m.message_id for m in smtp_server.messages) == sorted(
        f"<outbox-{row_id}@127.0.0.1>" for row_id in by_row)


def test_a_message_sent_by_another_worker_meanwhile_is_not_overwritten(mail_app, smtp_server):
    send_to_all(mail_app)
    with mail_app.app_context(), models.db.connection_context():
        ids = mail.claim_batch(utcnow())
        OutboxMessage.update(status="sent", reply="250 by the other").where(
            OutboxMessage.id == ids[0]).execute()
        outcome = mail.Outcome()
        mail.send_batch(ids, outcome)
    assert rows()[RECIPIENTS[0]].reply == "250 by the other"


def test_a_template_error_keeps_the_message_for_a_retry(mail_app, smtp_server, monkeypatch):
    send_to_all(mail_app)

    def broken(message, reply_to=None):
        raise RuntimeError("template missing")

    monkeypatch.setattr(mail, "render", broken)
    assert deliver(mail_app).retried == 4
    assert {r.status for r in rows().values()} == {"queued"}
    assert smtp_server.messages == []


def test_wake_in_immediate_mode_delivers_a_confirmed_sending(mail_app, smtp_server, immediate_queue):
    from conftest import login_as
    from test_mail_outbox import GRID, SEND_URL, confirmed_form

    admin = login_as(mail_app, "admin")
    admin.post(SEND_URL, data=confirmed_form(admin), headers=GRID)
    assert sorted(m.to for m in smtp_server.messages) == RECIPIENTS


def test_wake_never_fails_the_request_when_the_queue_is_down(app, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(mail.tasks.huey, "enqueue", down)
    with app.app_context():
        mail.wake()  # logged, not raised


@pytest.mark.parametrize("attempt, minutes", [(1, 1), (2, 2), (3, 4), (7, 60), (40, 60)])
def test_retry_delay_doubles_up_to_an_hour(app, attempt, minutes):
    with app.app_context():
        assert mail.retry_delay(attempt) == dt.timedelta(minutes=minutes)
