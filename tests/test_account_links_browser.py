"""What only a browser shows of account links: "Password dimenticata?" from the login page,
the link from the mail, the new password, and the portal opened logged in (an invited
client straight into his consent dialog)."""

import pytest
from playwright.sync_api import expect

import account_links
import accounts
import consent
import models
from models import Client, OutboxMessage, User

pytestmark = pytest.mark.browser

NEW_PASSWORD = "una-password-nuova-1"


def latest_link(live_server, kind):
    """The link of the newest outbox message of ``kind``, as the worker puts it in the mail."""
    with models.db.connection_context(), live_server.app.app_context():
        message = (OutboxMessage.select().where(OutboxMessage.kind == kind)
                   .order_by(OutboxMessage.id.desc()).get())
        url = account_links.link_url(message)
    return live_server.url + url.split("127.0.0.1:8000", 1)[1]


def test_forgotten_password_to_link_to_new_password_to_logged_in(page, live_server):
    with models.db.connection_context():
        User.update(email="marco@studio.example").where(User.username == "operatore1").execute()
    page.goto(live_server.url + "/login")
    page.get_by_role("link", name="Password dimenticata?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password dimenticata?")
    page.get_by_label("Nome utente o e-mail").fill("marco@studio.example")
    page.get_by_role("button", name="Invia il link").click()
    expect(page.get_by_role("status")).to_contain_text("Se l'account esiste, riceverà un'e-mail")

    link = latest_link(live_server, "password_reset")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Scegli una nuova password")
    page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Ripeti la nuova password").fill("un'altra cosa ancora")
    page.get_by_role("button", name="Imposta la password").click()
    expect(page.locator("#repeat_password-error")).to_have_text("Le due password non coincidono.")
    page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Ripeti la nuova password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Imposta la password").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.get_by_role("status")).to_contain_text("Password impostata")
    expect(page.locator(".welcome")).to_contain_text("Marco Operatore")

    page.get_by_role("button", name="Esci").click()
    page.goto(link)  # the same link again: spent
    expect(page.get_by_role("heading", level=1)).to_have_text("Il link non è più valido")
    page.get_by_role("link", name="Chiedi un nuovo link").click()
    expect(page.get_by_label("Nome utente o e-mail")).to_be_visible()


def test_an_invited_client_sets_his_password_and_is_asked_for_consent(page, live_server):
    with models.db.connection_context():
        client = Client.get(Client.code == "000145")
        client_user = User.get(User.client == client)
        admin = User.get(User.username == "admin")
        with models.write_transaction():
            User.update(password_hash=accounts.unusable_password_hash()).where(
                User.id == client_user.id).execute()
            assert account_links.invite(User.get_by_id(client_user.id)) is not None
        assert consent.send_requests(client.studio_id, admin, only=[client.id]).sent == 1
    page.goto(latest_link(live_server, "invitation"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Imposta la tua password")
    page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Ripeti la nuova password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Imposta la password").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.get_by_role("dialog", name="Conferma del consenso affinché il tuo Commercialista "
                            "possa accedere ai Servizi SMART")).to_be_visible()
