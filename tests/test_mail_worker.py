"""Delivering the outbox (issue 14): each outcome of a message at the SMTP server, with a real
server in the tests (aiosmtpd): sent with the server's answer, 4xx and unreachable server retried
with growing delays, 5xx failed at once, given up after 24 hours; one connection per batch;
a lease that outlives a dead worker."""

from __future__ import annotations

import consent
import mail
import models
from models import OutboxMessage, User


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
