"""The outbox (issue 14): a sending writes one message per reachable recipient in its own
transaction (rollback: no mail), and each message renders as the client reads it: Italian
text and HTML, from the studio, Reply-To its administrator, a stable Message-ID, the link."""

from __future__ import annotations

import datetime as dt
import json
from email.utils import parseaddr

import pytest
from bs4 import BeautifulSoup
from conftest import htmx_headers, login_as

import consent
import mail
import models
from models import Client, OutboxMessage, Studio, User

SEND_URL = "/area-personale/consensi/invio"
GRID = htmx_headers("consent-grid")
NOT_CONSENTED = ["000120", "000131", "000145", "000150"]  # never asked, pending, declined


def outbox(**where):
    with models.db.connection_context():
        query = OutboxMessage.select().order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(query)


def client_of(code, studio="BPF103") -> Client:
    with models.db.connection_context():
        return Client.select().join(Studio).where(
            (Client.code == code) & (Studio.code == studio)).get()


def confirmed_form(user, mode="tutti"):
    page = BeautifulSoup(user.get(f"{SEND_URL}?modo={mode}", headers=GRID).get_data(as_text=True),
                         "html.parser")
    form = page.select_one(".confirm-panel form")
    return {i["name"]: i["value"] for i in form.select("input[type=hidden]")}


# --- the rows ------------------------------------------------------------------------


def test_a_confirmed_sending_writes_one_message_per_recipient_with_an_address(app):
    admin = login_as(app, "admin")
    form = confirmed_form(admin)
    response = admin.post(SEND_URL, data=form, headers=GRID)
    assert response.status_code == 200
    rows = outbox()
    assert sorted(row.recipient for row in rows) == sorted(
        f"{code.lower()}@clienti.example" for code in NOT_CONSENTED)
    assert {row.kind for row in rows} == {"consent_request"}
    assert {row.status for row in rows} == {"queued"}
    with models.db.connection_context():
        key = models.ConsentSending.select(models.ConsentSending.key).scalar()
        assert {row.batch for row in rows} == {key}  # the sending's key names the batch
        assert {row.client_id for row in rows} == {client_of(c).id for c in NOT_CONSENTED}
        created = {row.created_at for row in rows}
        event_times = {e.created_at for e in models.ConsentEvent.select().where(
            models.ConsentEvent.client.in_([row.client_id for row in rows])
            & (models.ConsentEvent.kind == "sent")).order_by(models.ConsentEvent.id.desc())
            .limit(len(rows))}
    assert created == event_times  # written by the sending itself, at its moment


def test_a_client_without_an_address_is_asked_without_mail_and_a_deactivated_one_not_at_all(app):
    with models.db.connection_context():
        Client.update(email=None).where(Client.id == client_of("000120").id).execute()
        Client.update(active=False).where(Client.id == client_of("000131").id).execute()
        before = client_of("000131").consent_requested_at
        admin_user = User.get(User.username == "admin")
        result = consent.send_requests(admin_user.studio_id, admin_user, at=dt.datetime(2030, 1, 2))
        asked_now = {client.code for client in Client.select().where(
            Client.consent_requested_at == dt.datetime(2030, 1, 2))}
        assert client_of("000131").consent_requested_at == before
    assert result.sent == 3  # 000120 (no address) is asked, 000131 (deactivated) is not
    assert "000120" in asked_now and "000131" not in asked_now
    assert sorted(row.recipient for row in outbox()) == [
        "000145@clienti.example", "000150@clienti.example"]


def test_the_outbox_insert_is_one_statement_whatever_the_number(app):
    from conftest import counting_statements

    with models.db.connection_context():
        admin_user = User.get(User.username == "admin")
        with counting_statements() as counter:
            consent.send_requests(admin_user.studio_id, admin_user)
    inserts = [s for s in counter.statements if s.lstrip().upper().startswith("INSERT")
               and "outbox_message" in s]
    assert len(inserts) == 1


def test_a_rolled_back_sending_sends_no_mail(app, monkeypatch):
    admin = login_as(app, "admin")
    form = confirmed_form(admin)

    def broken_update(*args, **kwargs):
        raise RuntimeError("disk full")

    # after the outbox rows were written, inside the same transaction
    monkeypatch.setattr(models.ConsentSending, "update", broken_update)
    assert admin.post(SEND_URL, data=form, headers=GRID).status_code == 500
    monkeypatch.undo()
    assert outbox() == []


def test_a_repeated_confirmation_writes_no_second_mail(app):
    admin = login_as(app, "admin")
    form = confirmed_form(admin)
    admin.post(SEND_URL, data=form, headers=GRID)
    admin.post(SEND_URL, data=form, headers=GRID)
    assert len(outbox()) == 4


def test_enqueue_writes_in_the_callers_transaction(app):
    with models.db.connection_context():
        studio = Studio.get(Studio.code == "BPF103")
        with pytest.raises(RuntimeError), models.write_transaction():
            mail.enqueue("revocation", "admin@studio.example", studio=studio.id)
            raise RuntimeError("the action failed")
        assert OutboxMessage.select().count() == 0
        with models.write_transaction():
            message_id = mail.enqueue("revocation", "admin@studio.example", studio=studio.id,
                                      data={"nota": "è così"})
        row = OutboxMessage.get_by_id(message_id)
    assert (row.kind, row.status, row.attempts) == ("revocation", "queued", 0)
    assert json.loads(row.data) == {"nota": "è così"}
    with pytest.raises(ValueError):
        mail.enqueue("spam", "x@y.example", studio=studio.id)


def test_enqueue_from_writes_a_row_per_selected_row(app):
    with models.db.connection_context(), models.write_transaction():
        studio = Studio.get(Studio.code == "BPF103")
        count = mail.enqueue_from(
            "invitation",
            User.select(User.email, User.client, User.id).where(
                (User.studio == studio.id) & (User.role == "operator")),
            studio=studio.id, batch="inviti")
    assert count == 2
    rows = outbox(kind="invitation")
    assert [r.recipient for r in rows] == ["operatore1@studio.example", "operatore2@studio.example"]
    assert {r.batch for r in rows} == {"inviti"} and all(r.user_id for r in rows)


# --- the rendered message -----------------------------------------------------------


def queued_request(app, code="000120"):
    with models.db.connection_context():
        admin_user = User.get(User.username == "admin")
        consent.send_requests(admin_user.studio_id, admin_user, only=[client_of(code).id])
    return outbox(client=client_of(code).id)[-1]


def test_the_consent_request_reads_as_the_client_expects(app):
    row = queued_request(app)
    with app.app_context(), models.db.connection_context():
        message = mail.rendered_for(row.id).message()
    assert message["Subject"] == "Studio Demo: richiesta di consenso per i Servizi SMART"
    assert message["From"] == "Studio Demo <portale@studio.example>"
    assert message["To"] == "000120@clienti.example"
    assert message["Reply-To"] == "admin@studio.example"
    assert message["Message-ID"] == f"<outbox-{row.id}@127.0.0.1>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    assert "Gentile Cliente Ferramenta Rossi S.r.l." in text
    assert "Si, acconsento" in text and "http://127.0.0.1:8000/" in text
    page = BeautifulSoup(html, "html.parser")
    button = page.find("a", string="Accedi e rispondi")
    assert button["href"] == "http://127.0.0.1:8000/"
    assert "Ferramenta Rossi S.r.l." in page.get_text()


def test_the_message_follows_portal_url_and_sender(app):
    row = queued_request(app)
    app.config.update(PORTAL_URL="https://portale.studio.it/", MAIL_DEFAULT_SENDER="Portale <noreply@studio.it>")
    with app.app_context(), models.db.connection_context():
        Studio.update(name="Studio Rossi & Associati").where(Studio.code == "BPF103").execute()
        first = mail.rendered_for(row.id).message()
        again = mail.rendered_for(row.id).message()
    assert first["Message-ID"] == again["Message-ID"] == f"<outbox-{row.id}@portale.studio.it>"
    assert parseaddr(first["From"]) == ("Studio Rossi & Associati", "noreply@studio.it")
    html = first.get_payload()[1].get_payload(decode=True).decode()
    assert 'href="https://portale.studio.it/"' in html
    assert "Studio Rossi &amp; Associati" in html  # escaped in HTML, plain in text
    assert "Studio Rossi & Associati" in first.get_payload()[0].get_payload(decode=True).decode()


def test_no_reply_to_when_the_administrator_has_no_address(app):
    row = queued_request(app)
    with app.app_context(), models.db.connection_context():
        User.update(email=None).where(User.role == "admin").execute()
        message = mail.rendered_for(row.id).message()
    assert message["Reply-To"] is None


def test_account_link_kinds_take_their_link_from_account_links(app, monkeypatch):
    import sys
    import types

    fake = types.ModuleType("account_links")
    fake.link_url = lambda message: f"https://portale.example/link/{message.id}"
    monkeypatch.setitem(sys.modules, "account_links", fake)
    with app.app_context(), models.db.connection_context():
        user = User.get(User.username == "operatore1")
        message_id = mail.enqueue("invitation", user.email, studio=user.studio_id, user=user.id)
        row = OutboxMessage.select().where(OutboxMessage.id == message_id).get()
        context = mail.context_for(row)
    assert context["link"] == f"https://portale.example/link/{message_id}"
    assert context["user"].username == "operatore1"


def test_demo_data_gives_everyone_an_address(app):
    with models.db.connection_context():
        assert not Client.select().where(Client.email.is_null()).exists()
        assert not User.select().where(User.email.is_null()).exists()
        assert client_of("PINK").email == "pink@clienti.example"
        assert User.get(User.username == "admin").email == "admin@studio.example"
        # the release note's past sendings mailed no one
        assert OutboxMessage.select().count() == 0
