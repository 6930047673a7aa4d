"""Logging in and out, for every role; sessions that really end."""

import pytest
from conftest import AuthActions, parse, visible_text

import audit
from models import AuditEvent, User


def test_login_page_has_labelled_fields(client):
    page = parse(client.get("/login"))
    assert page.find("label", string="Nome utente")["for"] == "username"
    assert page.find("label", string="Password")["for"] == "password"
    assert page.find("button", string="Accedi")


@pytest.mark.parametrize(
    "username, name",
    [
        ("admin", "Mario Amministratore"),
        ("operatore1", "Marco Operatore"),
        ("pink", "Pink S.r.l."),
        ("admin.alt", "Anna Alternativa"),
    ],
)
def test_each_role_logs_in_and_sees_its_home(client, auth, username, name):
    response = auth.login(username)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = parse(client.get("/"))
    header = visible_text(home.find("header"))
    assert f"Benvenuto {name}" in header
    for link in ("Area personale", "Home", "Esci"):
        assert link in header


def test_username_is_case_insensitive(auth):
    assert auth.login("ADMIN").status_code == 302


@pytest.mark.parametrize("username, password", [("admin", "sbagliata"), ("nessuno", "demo")])
def test_unknown_user_and_wrong_password_get_the_same_message(client, auth, username, password):
    response = auth.login(username, password)
    assert response.status_code == 401
    alert = parse(response).find(role="alert")
    assert visible_text(alert) == "Nome utente o password non corretti."
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"username": "", "password": ""},
        {"username": "admin"},
        {"username": "x" * 10_000, "password": "y" * 10_000},
        {"username": "admin\x00", "password": "demo\x00"},
    ],
)
def test_bad_login_input_gets_a_clear_message(client, form):
    response = client.post("/login", data=form)
    assert response.status_code in (400, 401, 422)
    page = parse(response)
    assert page.find(role="alert") or page.find("h1").get_text() == "Richiesta non valida"


def test_disabled_user_cannot_log_in(app, auth, db):
    User.update(active=False).where(User.username == "operatore1").execute()
    response = auth.login("operatore1")
    assert response.status_code == 401
    # the answer of a wrong password: it must not confirm the disabled account's password
    assert "Nome utente o password non corretti." in parse(response).get_text()
    assert "disabilitat" not in parse(response).get_text()
    events = list(AuditEvent.select().where(AuditEvent.kind == "login_failed"))
    assert [audit.details_of(e) for e in events] == [{"reason": "account disabilitato"}]
    assert auth.login("operatore1", password="non-la-sua-password").status_code == 401
    assert len(AuditEvent.select().where(AuditEvent.kind == "login_failed")) == 2


def test_disabling_a_user_ends_his_session(app, client, auth, db):
    auth.login("operatore1")
    assert client.get("/").status_code == 200
    User.update(active=False).where(User.username == "operatore1").execute()
    assert client.get("/").status_code == 302


def test_logout_is_a_post_and_ends_the_session_on_the_server(app, client, auth):
    auth.login("admin")
    captured = client.get_cookie("session").value
    assert client.get("/logout").status_code == 405
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/login"

    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert replay.get("/").status_code == 302


def test_login_renews_the_session(app, client, auth):
    client.get("/login")
    before = client.get_cookie("session")
    auth.login("admin")
    after = client.get_cookie("session")
    assert after is not None and (before is None or before.value != after.value)


def test_anonymous_user_is_sent_to_login_and_back(client, auth):
    response = client.get("/area-personale/cambio-password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    response = client.post(
        "/login?next=/area-personale/cambio-password",
        data={"username": "admin", "password": "demo", "next": "/area-personale/cambio-password"},
    )
    assert response.headers["Location"] == "/area-personale/cambio-password"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil", "javascript:alert(1)"])
def test_login_never_redirects_off_site(client, target):
    response = client.post("/login", data={"username": "admin", "password": "demo", "next": target})
    assert response.headers["Location"] == "/"


def test_htmx_request_without_session_gets_hx_redirect(client, hx):
    response = client.get("/area-personale/cambio-password", headers=hx("password-form"))
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login"


def test_logged_in_user_visiting_login_goes_home(client, auth):
    auth.login("admin")
    assert client.get("/login").headers["Location"] == "/"


def test_a_second_login_does_not_end_the_first(app, auth):
    first = app.test_client()
    AuthActions(first).login("admin")
    second = app.test_client()
    AuthActions(second).login("admin")
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 200
