"""What the walk-through of issue 14 found in the mail texts: a client who never logged in
is told his username and where to set a password; the footer invites replies only when
they reach the studio; no words run together."""

from __future__ import annotations

import re

import pytest

import mail
import models
from models import ROLE_ADMIN, Client, Studio, User


@pytest.fixture
def studio(app):
    with app.app_context(), models.db.connection_context():
        yield Studio.get(Studio.code == "BPF103")


def queue(kind, studio, client=None, recipient="x@clienti.example", user=None):
    with models.write_transaction():
        return mail.enqueue(kind, recipient, studio=studio.id,
                            client=client.id if client else None, user=user)


def texts(row_id, reply_to=None):
    email = mail.rendered_for(row_id, reply_to)
    [(html, _)] = email.alternatives
    return email, email.body, html


@pytest.mark.parametrize("kind", ["consent_request", "reminder"])
def test_the_client_is_told_his_username_and_where_to_set_a_password(studio, kind):
    client = Client.get(Client.code == "000131")
    _, text, html = texts(queue(kind, studio, client))
    forgot = "http://127.0.0.1:8000/password-dimenticata"
    for body in (text, html):
        assert "Il tuo nome utente è:" in body and "000131" in body
        assert "Se non hai ancora una password o l'hai dimenticata, impostala da qui:" in body
    assert forgot in text and f'href="{forgot}"' in html


def test_a_client_without_an_active_user_gets_no_username_but_the_password_link(studio):
    client = Client.get(Client.code == "000131")
    User.update(active=False).where(User.client == client).execute()
    _, text, _ = texts(queue("consent_request", studio, client))
    assert "nome utente" not in text
    assert "impostala da qui:" in text


def test_the_footer_invites_replies_only_with_a_reply_to(studio):
    client = Client.get(Client.code == "000131")
    row = queue("consent_request", studio, client)
    email, text, html = texts(row)
    assert email.reply_to == ["admin@studio.example"]
    assert "rispondi a questa e-mail" in text and "rispondi a questa e-mail" in html

    User.update(email=None).where((User.studio == studio) & (User.role == ROLE_ADMIN)).execute()
    email, text, html = texts(row)
    assert not email.reply_to
    assert "rispondi a questa e-mail" not in text and "rispondi a questa e-mail" not in html
    assert "Questo messaggio ti è stato inviato da" in text


def visible_text(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_revocation_mail_has_a_space_after_the_client_code(studio):
    pink = Client.get(Client.code == "PINK")
    admin = User.get(User.username == "admin")
    _, text, html = texts(queue("revocation", studio, pink, admin.email, admin.id))
    assert "(codice PINK) ha revocato" in text
    assert "(codice PINK)ha" not in html and "(codice PINK) ha revocato" in html


@pytest.mark.parametrize("kind", ["consent_request", "reminder", "revocation", "daily_summary"])
def test_no_words_run_together_in_a_mail(studio, kind):
    client = Client.get(Client.code == "PINK")
    admin = User.get(User.username == "admin")
    _, text, html = texts(queue(kind, studio, client, admin.email, admin.id))
    for body in (" ".join(text.split()), visible_text(html)):
        words = re.sub(r"https?://\S+|\S+@\S+", "", body)
        assert not re.search(r"\)[^\s.,:;)]|[,;][^\s\d]|:[A-Za-z]", words), body
