"""Account links: the invitation and "Password dimenticata?" — single use, expiry, the same
answer for every account, throttling, the audit trail, operators invited, the CLI."""

import datetime as dt
import json
import statistics
import threading
import time
from urllib.parse import urlsplit

import pytest
from conftest import AuthActions, counting_statements, login_as, make_test_app, parse, visible_text
from smart_helpers import user

import account_links
import accounts
import demo
import models
from models import AuditEvent, OutboxMessage, User, UserSession

NEW_PASSWORD = "una-password-nuova-1"
REFUSED = "Il link non è più valido"
SAME_ANSWER = "Se l'account esiste, riceverà un'e-mail con il link"


def give_address(username, address):
    User.update(email=address).where(User.username == username).execute()
    return user(username)


def outbox(kind=None):
    query = OutboxMessage.select().order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(query)


def path_of(message):
    """The path of the message's link, as the test client asks for it."""
    return urlsplit(account_links.link_url(message)).path


def link_for(app, username, kind=account_links.PASSWORD_RESET):
    """Queue a link of ``kind`` for ``username`` the way the portal does; return its path."""
    target = user(username)
    with app.app_context():
        with models.write_transaction():
            message_id = account_links._enqueue(target, kind)
        return path_of(OutboxMessage.get_by_id(message_id))


def set_password(client, path, new=NEW_PASSWORD, repeat=None):
    return client.post(path, data={"new_password": new,
                                   "repeat_password": new if repeat is None else repeat})


def audit_kinds(kind):
    return [json.loads(e.details) | {"username": e.username, "studio": e.studio_id}
            for e in AuditEvent.select().where(AuditEvent.kind == kind).order_by(AuditEvent.id)]


def can_log_in(app, username, password):
    return AuthActions(app.test_client()).login(username, password).status_code == 302


# --- no usable password -------------------------------------------------------------


def test_an_unusable_password_hash_is_verified_by_no_password(app, db):
    first, second = accounts.unusable_password_hash(), accounts.unusable_password_hash()
    assert first != second
    User.update(password_hash=first).where(User.username == "operatore1").execute()
    operator = user("operatore1")
    assert not accounts.has_usable_password(operator)
    for guess in ("", "demo", first, first[1:], "!", "x" * 300):
        assert not accounts.check_password(operator, guess)
    response = AuthActions(app.test_client()).login("operatore1", "demo")
    assert response.status_code == 401
    assert "Nome utente o password non corretti." in visible_text(parse(response))


def test_refusing_an_unusable_hash_costs_what_a_wrong_password_costs(app, db):
    User.update(password_hash=accounts.unusable_password_hash()).where(
        User.username == "operatore1").execute()
    operator, admin = user("operatore1"), user("admin")

    def cost(target):
        started = time.perf_counter()
        accounts.check_password(target, "sbagliata-davvero")
        return time.perf_counter() - started

    unusable = statistics.median(cost(operator) for _ in range(5))
    wrong = statistics.median(cost(admin) for _ in range(5))
    assert unusable > wrong / 3, (unusable, wrong)


# --- single use, expiry, a changed password ------------------------------------------


def test_a_link_works_once_then_is_refused(app, db):
    give_address("operatore1", "marco@studio.example")
    path = link_for(app, "operatore1")
    browser = app.test_client()
    form = parse(browser.get(path))
    assert visible_text(form.find("h1")) == "Scegli una nuova password"
    assert form.select_one("input[name=new_password]") is not None
    response = set_password(browser, path)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert browser.get("/").status_code == 200  # logged in
    assert can_log_in(app, "operatore1", NEW_PASSWORD)
    assert not can_log_in(app, "operatore1", "demo")

    again = app.test_client()
    for response in (again.get(path), set_password(again, path, "un-altra-password-2")):
        assert response.status_code == 410
        page = parse(response)
        assert visible_text(page.find("h1")).startswith(REFUSED)
        assert page.find("a", string="Chiedi un nuovo link")["href"] == "/password-dimenticata"
    assert can_log_in(app, "operatore1", NEW_PASSWORD)


def test_setting_a_password_ends_the_users_other_sessions(app, db):
    give_address("operatore1", "marco@studio.example")
    elsewhere = login_as(app, "operatore1")
    assert elsewhere.get("/").status_code == 200
    set_password(app.test_client(), link_for(app, "operatore1"))
    assert elsewhere.get("/").headers["Location"].startswith("/login")
    assert UserSession.select().where(UserSession.user == user("operatore1")).count() == 1


def test_the_new_password_follows_the_account_pages_rules(app, db):
    give_address("operatore1", "marco@studio.example")
    path = link_for(app, "operatore1")
    browser = app.test_client()
    for new, repeat, field, message in [
        ("corta", None, "new_password", "La password deve contenere almeno 12 caratteri."),
        ("operatore1", None, "new_password", "La password deve contenere almeno 12 caratteri."),
        ("una-password-lunga", "un-altra-password", "repeat_password", "Le due password non coincidono."),
        ("", None, "new_password", "Inserisci la nuova password."),
    ]:
        response = set_password(browser, path, new, repeat)
        assert response.status_code == 422
        assert visible_text(parse(response).select_one(f"#{field}-error")) == message
    assert can_log_in(app, "operatore1", "demo")  # nothing changed, the link still works
    assert set_password(browser, path).status_code == 302


@pytest.mark.parametrize("kind, validity", [
    (account_links.INVITATION, dt.timedelta(days=7)),
    (account_links.PASSWORD_RESET, dt.timedelta(hours=1)),
])
def test_a_link_expires(app, db, monkeypatch, kind, validity):
    give_address("operatore1", "marco@studio.example")
    path = link_for(app, "operatore1", kind)
    issued = models.utcnow()
    browser = app.test_client()
    monkeypatch.setattr(account_links, "utcnow", lambda: issued + validity - dt.timedelta(minutes=1))
    assert browser.get(path).status_code == 200
    monkeypatch.setattr(account_links, "utcnow", lambda: issued + validity + dt.timedelta(minutes=1))
    assert browser.get(path).status_code == 410
    assert set_password(browser, path).status_code == 410
    assert can_log_in(app, "operatore1", "demo")
    assert audit_kinds("account_link_refused")[-1]["reason"] == "link scaduto"


def test_a_link_is_refused_once_the_password_changed(app, db):
    give_address("operatore1", "marco@studio.example")
    path = link_for(app, "operatore1")
    other = link_for(app, "operatore1", account_links.INVITATION)
    accounts.change_password(user("operatore1"), "cambiata-dall-utente-1", keep_token=None)
    for link in (path, other):
        assert app.test_client().get(link).status_code == 410
    assert audit_kinds("account_link_refused")[-1]["reason"] == (
        "link già usato o password cambiata dopo il suo invio")


def test_using_one_link_spends_every_other_outstanding_link(app, db):
    give_address("operatore1", "marco@studio.example")
    first, second = link_for(app, "operatore1"), link_for(app, "operatore1")
    assert set_password(app.test_client(), second).status_code == 302
    assert app.test_client().get(first).status_code == 410


@pytest.mark.parametrize("tamper", [
    lambda path: path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb"),  # a forged signature
    lambda path: path.replace("/nuova-password/", "/invito/"),  # another kind's page
    lambda path: "/nuova-password/" + "x" * 5000,
    lambda path: "/invito/%00",
])
def test_a_forged_or_mangled_link_is_refused(app, db, tamper):
    give_address("operatore1", "marco@studio.example")
    response = app.test_client().get(tamper(link_for(app, "operatore1")))
    assert response.status_code in (400, 404, 410)
    assert can_log_in(app, "operatore1", "demo")


def test_a_link_of_a_disabled_account_is_refused(app, db):
    give_address("operatore1", "marco@studio.example")
    path = link_for(app, "operatore1")
    User.update(active=False).where(User.username == "operatore1").execute()
    assert app.test_client().get(path).status_code == 410


def test_a_link_signed_with_another_secret_is_refused(app, db):
    give_address("operatore1", "marco@studio.example")
    path = link_for(app, "operatore1")
    app.secret_key = "un-altro-segreto"
    assert app.test_client().get(path).status_code == 410


def test_a_link_opened_in_someone_elses_session_logs_its_own_user_in(app, db):
    give_address("operatore1", "marco@studio.example")
    browser = login_as(app, "admin")
    assert set_password(browser, link_for(app, "operatore1")).status_code == 302
    page = parse(browser.get("/"))
    assert "Marco Operatore" in visible_text(page.select_one(".welcome"))
    assert UserSession.select().where(UserSession.user == user("admin")).count() == 0


# --- the link is built from the outbox row alone -----------------------------------------


def test_link_url_works_from_a_row_written_by_sql(app, db):
    """The contract with the import: INSERT … SELECT of studio, kind, recipient, client, user."""
    pink = user("pink")
    now = models.utcnow()
    OutboxMessage.insert(studio=pink.studio_id, kind="invitation", recipient="pink@example.com",
                         client=pink.client_id, user=pink.id, created_at=now,
                         next_attempt_at=now).execute()
    message = outbox("invitation")[-1]
    with app.app_context():
        url = account_links.link_url(message)
        assert url == account_links.link_url(message)  # the same link each time it is rendered
    assert url.startswith("http://127.0.0.1:8000/invito/")
    assert visible_text(parse(app.test_client().get(urlsplit(url).path)).find("h1")) == (
        "Imposta la tua password")


def test_link_url_follows_portal_url(database_url):
    app = make_test_app(database_url, PORTAL_URL="https://portale.studio.example/")
    with models.db.connection_context():
        demo.seed(password="demo")
        pink = user("pink")
        message = OutboxMessage.create(studio=pink.studio_id, kind="password_reset",
                                       recipient="pink@example.com", user=pink.id)
        with app.app_context():
            assert account_links.link_url(message).startswith(
                "https://portale.studio.example/nuova-password/")
    models.db.close_all()


def test_invite_users_is_one_statement_for_any_number(app, db):
    studio = user("admin").studio_id
    User.update(email=None).where(User.studio == studio).execute()
    clients = User.select(User.id).where((User.studio == studio) & (User.role == "client"))
    models.Client.update(email=None).execute()
    with app.app_context(), counting_statements(sql_only=True) as counter:
        assert account_links.invite_users(studio, clients) == 0  # no address, no mail
    models.Client.update(email=models.Client.code.concat("@clienti.example")).execute()
    with app.app_context(), counting_statements(sql_only=True) as counter:
        queued = account_links.invite_users(studio, clients)
    assert queued == clients.count() and queued > 3
    assert counter.count <= 3, counter.statements  # the INSERT … SELECT (and a savepoint)
    rows = outbox("invitation")
    assert {(m.user_id, m.client_id, m.recipient) for m in rows} == {
        (u.id, u.client_id, u.client.code + "@clienti.example") for u in
        User.select().where(User.id.in_(clients))}
    other_studio = user("admin.alt").studio_id
    assert account_links.invite_users(other_studio, clients) == 0  # never another studio's users


# --- "Password dimenticata?" -------------------------------------------------------------


def ask(client, identifier, address="198.51.100.7"):
    return client.post("/password-dimenticata", data={"identificativo": identifier},
                       environ_base={"REMOTE_ADDR": address})


def test_the_login_page_links_to_password_dimenticata(client):
    link = parse(client.get("/login")).find("a", string="Password dimenticata?")
    assert link["href"] == "/password-dimenticata"
    form = parse(client.get(link["href"]))
    assert form.find("label", string="Nome utente o e-mail") is not None


@pytest.mark.parametrize("identifier", ["operatore1", " OPERATORE1 ", "Marco@Studio.Example"])
def test_a_reset_is_sent_by_username_or_address(app, db, identifier):
    give_address("operatore1", "marco@studio.example")
    response = ask(app.test_client(), identifier)
    assert response.status_code == 200
    assert SAME_ANSWER in visible_text(parse(response).select_one("[role=status]"))
    [message] = outbox("password_reset")
    assert (message.user_id, message.recipient, message.studio_id) == (
        user("operatore1").id, "marco@studio.example", user("operatore1").studio_id)
    assert message.client_id is None


def test_a_client_user_gets_his_reset_at_his_clients_address(app, db):
    pink = user("pink")
    User.update(email=None).where(User.id == pink.id).execute()
    models.Client.update(email="amministrazione@pink.example").where(
        models.Client.id == pink.client_id).execute()
    ask(app.test_client(), "amministrazione@pink.example")
    [message] = outbox("password_reset")
    assert (message.user_id, message.client_id, message.recipient) == (
        pink.id, pink.client_id, "amministrazione@pink.example")


def test_the_answer_is_the_same_whether_the_account_exists_or_not(app, db):
    give_address("operatore1", "marco@studio.example")
    User.update(email=None).where(User.username == "operatore2").execute()

    def answer(identifier):
        response = ask(app.test_client(), identifier)
        main = parse(response).find("main")
        for token in main.select("input[name=csrf_token]"):
            token.decompose()
        return response.status_code, str(main)

    existing = answer("operatore1")
    assert existing == answer("nessuno")
    assert existing == answer("nessuno@altrove.example")
    assert existing == answer("operatore2")  # exists, but has no address
    assert existing == answer(user("operatore1").username.upper())
    assert len(outbox("password_reset")) == 2


def test_an_unknown_account_costs_about_what_an_existing_one_costs(app, db):
    give_address("operatore1", "marco@studio.example")
    app.config["RESET_LIMIT_PER_ADDRESS"] = "1000 per minute"
    browser = app.test_client()

    def cost(identifier):
        started = time.perf_counter()
        ask(browser, identifier)
        return time.perf_counter() - started

    for identifier in ("operatore1", "nessuno"):  # warm both paths
        cost(identifier)
    existing = statistics.median(cost("operatore1") for _ in range(7))
    unknown = statistics.median(cost("nessuno") for _ in range(7))
    assert unknown < existing * 3 + 0.02 and existing < unknown * 3 + 0.02, (existing, unknown)


def test_an_account_gets_at_most_a_few_reset_mails_an_hour(app, db):
    give_address("operatore1", "marco@studio.example")
    browser = app.test_client()
    for _ in range(account_links.RESETS_PER_ACCOUNT_PER_HOUR + 2):
        assert SAME_ANSWER in visible_text(parse(ask(browser, "operatore1")))
    assert len(outbox("password_reset")) == account_links.RESETS_PER_ACCOUNT_PER_HOUR
    events = audit_kinds("password_reset_requested")
    assert [e["mail_queued"] for e in events][-2:] == [False, False]


def test_requests_are_throttled_per_address(app, db):
    app.config["RESET_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    browser = app.test_client()
    for name in ("a1", "a2", "a3"):
        assert ask(browser, name).status_code == 200
    refused = ask(browser, "operatore1")
    assert refused.status_code == 429
    assert "Troppe richieste" in visible_text(parse(refused).select_one("[role=alert]"))
    assert outbox("password_reset") == []
    assert ask(browser, "operatore1", address="203.0.113.9").status_code == 200  # another address
    assert audit_kinds("password_reset_throttled")


def test_an_empty_or_oversize_request_changes_nothing(app, db):
    browser = app.test_client()
    response = ask(browser, "   ")
    assert response.status_code == 422
    assert "Inserisci il nome utente o l'indirizzo e-mail." in visible_text(parse(response))
    assert ask(browser, "x" * 100_000).status_code in (200, 413)
    assert outbox() == []


def test_a_disabled_account_gets_no_reset(app, db):
    give_address("operatore1", "marco@studio.example")
    User.update(active=False).where(User.username == "operatore1").execute()
    assert SAME_ANSWER in visible_text(parse(ask(app.test_client(), "operatore1")))
    assert outbox() == []


def test_the_audit_trail_of_a_reset(app, db):
    give_address("operatore1", "marco@studio.example")
    browser = app.test_client()
    ask(browser, "operatore1")
    ask(browser, "sconosciuto")
    requested = audit_kinds("password_reset_requested")
    studio = user("operatore1").studio_id
    assert [(e["username"], e["studio"], e.get("mail_queued"), e.get("reason")) for e in requested] == [
        ("operatore1", studio, True, None), ("sconosciuto", None, None, "account inesistente")]
    with app.test_request_context():
        path = path_of(outbox("password_reset")[0])
    set_password(browser, path)
    [done] = audit_kinds("password_set_by_link")
    assert (done["username"], done["studio"], done["link"]) == (
        "operatore1", studio, "password dimenticata")
    app.test_client().get(path)
    refused = audit_kinds("account_link_refused")[-1]
    assert (refused["username"], refused["studio"], refused["link"]) == (
        "operatore1", studio, "password dimenticata")
    page = visible_text(parse(login_as(app, "admin").get("/area-personale/registro-attivita")))
    assert "Password impostata dal link ricevuto per e-mail" in page


# --- operators invited ------------------------------------------------------------------

OPERATORS = "/area-personale/operatori"


def test_an_operator_created_from_the_page_is_invited_and_has_no_password(app, db, hx):
    response = login_as(app, "admin").post(OPERATORS, headers=hx("operators"), data={
        "username": "luca.nuovo", "display_name": "Luca Nuovo", "email": "Luca@Studio.Example"})
    assert response.status_code == 200
    status = visible_text(parse(response).select_one("[role=status]"))
    assert "Operatore luca.nuovo creato" in status and "Luca@studio.example" in status
    created = user("luca.nuovo")
    assert created.email == "Luca@studio.example" and created.role == "operator"
    assert not accounts.has_usable_password(created)
    [message] = outbox("invitation")
    assert (message.user_id, message.recipient, message.studio_id, message.client_id) == (
        created.id, "Luca@studio.example", created.studio_id, None)
    with app.test_request_context():
        path = path_of(message)
    browser = app.test_client()
    assert set_password(browser, path).status_code == 302
    assert "Luca Nuovo" in visible_text(parse(browser.get("/")).select_one(".welcome"))
    assert can_log_in(app, "luca.nuovo", NEW_PASSWORD)
    kinds = [e.kind for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert kinds.index("operator_created") < kinds.index("invitation_sent") < kinds.index(
        "password_set_by_link")


@pytest.mark.parametrize("email, message", [
    ("", "Inserisci l'indirizzo e-mail"),
    ("non-un-indirizzo", "non è un indirizzo e-mail valido"),
    ("a@" + "b" * 300 + ".it", "troppo lungo"),
])
def test_an_operator_needs_a_valid_address(app, db, email, message):
    response = login_as(app, "admin").post(OPERATORS, data={
        "username": "luca.nuovo", "display_name": "Luca Nuovo", "email": email})
    assert response.status_code == 422
    assert message in visible_text(parse(response).select_one("#op-email-error"))
    assert User.get_or_none(User.username == "luca.nuovo") is None and outbox() == []


def test_the_admin_resends_the_link(app, db, hx):
    give_address("operatore1", "marco@studio.example")
    op1 = user("operatore1")
    page = parse(login_as(app, "admin").get(OPERATORS))
    button = page.find("button", attrs={"aria-label": "Invia link per la password a operatore1"})
    assert visible_text(button) == "Invia link per la password"
    response = login_as(app, "admin").post(button.find_parent("form")["action"],
                                           headers=hx("operators"))
    # operatore1 has a password: the link is one to choose a new one (the reset's).
    assert "Link per scegliere una nuova password inviato a operatore1" in visible_text(
        parse(response).select_one("[role=status]"))
    [message] = outbox("password_reset")
    assert (message.user_id, message.recipient) == (op1.id, "marco@studio.example")
    assert audit_kinds("password_link_sent")[-1]["user"] == "operatore1"
    assert outbox("invitation") == []


def test_the_admin_resends_the_invitation_to_an_operator_without_password(app, db):
    admin = login_as(app, "admin")
    admin.post(OPERATORS, data={"username": "luca.nuovo", "display_name": "Luca Nuovo",
                                "email": "luca@studio.example"})
    response = admin.post(f"{OPERATORS}/{user('luca.nuovo').id}/invito")
    assert response.status_code == 302
    assert [m.recipient for m in outbox("invitation")] == ["luca@studio.example"] * 2
    assert outbox("password_reset") == []


def test_the_admin_cannot_flood_an_operator_with_links(app, db):
    give_address("operatore1", "marco@studio.example")
    admin = login_as(app, "admin")
    url = f"{OPERATORS}/{user('operatore1').id}/invito"
    assert [admin.post(url).status_code for _ in range(4)] == [302, 302, 302, 429]
    assert len(outbox("password_reset")) == 3
    assert len(audit_kinds("password_link_sent")) == 3


def test_no_link_for_an_operator_without_address_or_of_another_studio(app, db):
    User.update(email=None).where(User.username == "operatore1").execute()
    op1 = user("operatore1")
    admin = login_as(app, "admin")
    page = parse(admin.get(OPERATORS))
    assert page.find("button", attrs={"aria-label": "Invia link per la password a operatore1"}) is None
    assert admin.post(f"{OPERATORS}/{op1.id}/invito").status_code == 422
    give_address("operatore1", "marco@studio.example")
    assert login_as(app, "admin.alt").post(f"{OPERATORS}/{op1.id}/invito").status_code == 404
    assert outbox() == []


# --- the command line ---------------------------------------------------------------------


def test_create_user_with_invite_has_no_password_and_gets_a_link(app, runner, db):
    result = runner.invoke(args=["create-user", "--studio", "BPF103", "--username", "nuova.admin",
                                 "--name", "Nuova", "--email", "nuova@studio.example", "--invite"])
    assert result.exit_code == 0, result.output
    assert "Invito in coda per nuova@studio.example" in result.output
    created = user("nuova.admin")
    assert created.role == "admin" and not accounts.has_usable_password(created)
    [message] = outbox("invitation")
    assert (message.user_id, message.recipient) == (created.id, "nuova@studio.example")


def test_create_user_with_a_password_keeps_the_address(app, runner, db):
    result = runner.invoke(
        args=["create-user", "--studio", "BPF103", "--username", "altro.admin", "--name", "Altro",
              "--email", "altro@studio.example"],
        input="password-robusta-1\npassword-robusta-1\n")
    assert result.exit_code == 0, result.output
    assert user("altro.admin").email == "altro@studio.example" and outbox() == []
    assert can_log_in(app, "altro.admin", "password-robusta-1")


@pytest.mark.parametrize("extra, message", [
    (["--invite"], "Con --invite serve --email"),
    (["--invite", "--email", "non-valido"], "non è un indirizzo e-mail valido"),
])
def test_create_user_refuses_an_invitation_without_address(app, runner, db, extra, message):
    result = runner.invoke(args=["create-user", "--studio", "BPF103", "--username", "x.admin",
                                 "--name", "X", *extra])
    assert result.exit_code != 0 and message in result.output
    assert User.get_or_none(User.username == "x.admin") is None


# --- one's own address in Area personale ---------------------------------------------------

EMAIL_PAGE = "/area-personale/indirizzo-email"


def test_admin_and_operators_change_their_own_address(app, db, hx):
    for username in ("admin", "operatore1"):
        browser = login_as(app, username)
        page = parse(browser.get(EMAIL_PAGE))
        assert "Indirizzo e-mail" in [visible_text(a) for a in page.select("nav.side-menu ul a")]
        response = browser.post(EMAIL_PAGE, headers=hx("email-form"), data={
            "email": f" {username.upper()}@Nuovo.Example ", "current_password": "demo"})
        assert response.status_code == 200
        assert visible_text(parse(response).select_one("[role=status]")) == "Indirizzo e-mail salvato."
        assert user(username).email == f"{username.upper()}@nuovo.example"
    assert audit_kinds("email_changed")[-1]["new"] == "OPERATORE1@nuovo.example"


@pytest.mark.parametrize("data, field, message", [
    ({"email": "non-valido"}, "email", "non è un indirizzo e-mail valido"),
    ({"email": ""}, "email", "Inserisci l'indirizzo e-mail."),
    ({"current_password": "sbagliata"}, "current_password", "La password attuale non è corretta."),
    ({"current_password": ""}, "current_password", "Inserisci la password attuale."),
])
def test_a_bad_address_or_password_changes_nothing(app, db, data, field, message):
    before = user("operatore1").email
    form = {"email": "nuovo@studio.example", "current_password": "demo", **data}
    response = login_as(app, "operatore1").post(EMAIL_PAGE, data=form)
    assert response.status_code == 422
    assert message in visible_text(parse(response).select_one(f"#{field}-error"))
    assert user("operatore1").email == before


def test_clients_have_no_address_page(app):
    assert login_as(app, "pink").get(EMAIL_PAGE).status_code == 403


# --- the mail itself, through a real SMTP server -----------------------------------------


def link_in(text):
    return next(word for word in text.split() if "/nuova-password/" in word or "/invito/" in word)


def test_the_reset_mail_carries_a_link_that_works(mail_app, smtp_server, immediate_queue, db):
    give_address("operatore1", "marco@studio.example")
    ask(mail_app.test_client(), "operatore1")
    [received] = smtp_server.messages
    assert received.to == "marco@studio.example"
    assert "nuova password" in received.message["Subject"]
    text, html = received.part("text/plain"), received.part("text/html")
    link = link_in(text)
    assert link.startswith("http://127.0.0.1:8000/nuova-password/")
    assert f'href="{link}"' in html and "vale un'ora" in text
    browser = mail_app.test_client()
    assert set_password(browser, urlsplit(link).path).status_code == 302
    assert can_log_in(mail_app, "operatore1", NEW_PASSWORD)
    [message] = outbox("password_reset")
    assert message.status == "sent"


def test_an_invited_operator_gets_his_username_and_link(mail_app, smtp_server, immediate_queue, db):
    login_as(mail_app, "admin").post(OPERATORS, data={
        "username": "luca.nuovo", "display_name": "Luca Nuovo", "email": "luca@studio.example"})
    [received] = smtp_server.messages
    text = received.part("text/plain")
    assert received.to == "luca@studio.example" and "luca.nuovo" in text and "7 giorni" in text
    path = urlsplit(link_in(text)).path
    assert path.startswith("/invito/")
    assert set_password(mail_app.test_client(), path).status_code == 302
    assert can_log_in(mail_app, "luca.nuovo", NEW_PASSWORD)


def test_no_mail_when_the_action_rolls_back(app, db):
    give_address("operatore1", "marco@studio.example")
    with app.app_context(), pytest.raises(RuntimeError):
        with models.write_transaction():
            account_links.invite(user("operatore1"))
            raise RuntimeError("the action failed")
    assert outbox() == []


def test_a_deactivated_clients_user_gets_no_reset_and_no_link(app, db):
    pink = user("pink")
    path = link_for(app, "pink", account_links.INVITATION)
    models.Client.update(active=False).where(models.Client.id == pink.client_id).execute()
    for identifier in ("pink", account_links.account_address(pink)):
        assert SAME_ANSWER in visible_text(parse(ask(app.test_client(), identifier)))
    assert outbox("password_reset") == []
    assert app.test_client().get(path).status_code == 410


def test_two_uses_of_one_link_at_once_set_one_password(app, db):
    """The link is checked again under the write lock: of two racing uses, one wins."""
    give_address("operatore1", "marco@studio.example")
    path = link_for(app, "operatore1")
    start, answers = threading.Barrier(2), []

    def use(password):
        browser = app.test_client()
        start.wait()
        answers.append((set_password(browser, path, password).status_code, password))

    racers = [threading.Thread(target=use, args=(f"password-del-corridore-{n}",)) for n in (1, 2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    assert sorted(code for code, _ in answers) == [302, 410]
    [winner] = [password for code, password in answers if code == 302]
    assert can_log_in(app, "operatore1", winner)
    assert len(audit_kinds("password_set_by_link")) == 1
