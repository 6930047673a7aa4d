"""Area personale: the menu of each role, Dati generali, Cambio password."""

import pytest
from conftest import AuthActions, login_as, parse, visible_text

import accounts
from models import User


def menu_labels(page):
    return [visible_text(a) for a in page.select("nav.side-menu ul a")]


def test_area_personale_opens_the_first_menu_entry(app):
    admin = login_as(app, "admin")
    assert admin.get("/area-personale").headers["Location"] == "/area-personale/dati-generali"
    client = login_as(app, "pink")
    assert client.get("/area-personale").headers["Location"] == "/area-personale/cambio-password"


def test_menus_show_only_entries_that_work(app):
    for username in ("admin", "operatore1", "pink"):
        page = parse(login_as(app, username).get("/area-personale/cambio-password"))
        links = page.select("nav.side-menu ul a")
        assert links, username
        for link in links:
            assert login_as(app, username).get(link["href"]).status_code == 200, link["href"]
    admin_menu = menu_labels(parse(login_as(app, "admin").get("/area-personale/dati-generali")))
    assert admin_menu[0] == "Dati generali" and admin_menu[-1] == "Cambio password"


def test_dati_generali_shows_the_admins_own_studio(app):
    page = parse(login_as(app, "admin.alt").get("/area-personale/dati-generali"))
    text = visible_text(page.find("main"))
    assert "ALT001" in text and "BPF103" not in text


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_dati_generali_is_for_the_admin_only(app, username):
    assert login_as(app, username).get("/area-personale/dati-generali").status_code == 403


def change(client, current, new, repeat=None, headers=None):
    return client.post(
        "/area-personale/cambio-password",
        data={"current_password": current, "new_password": new,
              "repeat_password": new if repeat is None else repeat},
        headers=headers or {},
    )


@pytest.mark.parametrize(
    "current, new, repeat, field, message",
    [
        ("", "una-password-lunga", None, "current_password", "Inserisci la password attuale."),
        ("sbagliata", "una-password-lunga", None, "current_password", "La password attuale non è corretta."),
        ("demo", "corta", None, "new_password", "La password deve contenere almeno 12 caratteri."),
        ("demo", "una-password-lunga", "un'altra-password", "repeat_password", "Le due password non coincidono."),
        ("demo", "", None, "new_password", "Inserisci la nuova password."),
        ("demo", "x" * 10_000, None, "new_password", "La password può contenere al massimo 256 caratteri."),
        ("x" * 10_000, "una-password-lunga", None, "current_password", "La password attuale non è corretta."),
    ],
)
def test_change_password_rejects_bad_input_with_a_clear_message(app, current, new, repeat, field, message):
    client = login_as(app, "operatore1")
    response = change(client, current, new, repeat)
    assert response.status_code == 422
    error = parse(response).find(id=f"{field}-error")
    assert visible_text(error) == message
    assert AuthActions(app.test_client()).login("operatore1").status_code == 302  # unchanged


def test_change_password_in_place_with_htmx(app, hx):
    client = login_as(app, "pink")
    response = change(client, "demo", "nuova-password-sicura", headers=hx("password-form"))
    assert response.status_code == 200
    page = parse(response)
    assert page.find("header") is None  # only the form came back
    assert visible_text(page.find(role="status")) == "Password modificata."
    assert AuthActions(app.test_client()).login("pink", "nuova-password-sicura").status_code == 302
    assert AuthActions(app.test_client()).login("pink", "demo").status_code == 401


def test_change_password_ends_the_other_sessions_only(app):
    elsewhere = login_as(app, "admin")
    here = login_as(app, "admin")
    assert change(here, "demo", "nuova-password-sicura").status_code == 200
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302


def test_passwords_are_stored_as_argon2id_hashes(app, db):
    user = User.get(User.username == "admin")
    assert user.password_hash.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in user.password_hash


@pytest.mark.parametrize(
    "password, ok",
    [("a" * 11, False), ("a" * 12, True), (" " + "a" * 12, False), ("a" * 12 + "\n", False), ("admin", False)],
)
def test_password_rules(password, ok):
    assert (accounts.password_problem(password, "admin") is None) is ok


def test_a_wrong_current_password_is_recorded_in_the_audit_log(app):
    client = login_as(app, "operatore1")
    assert change(client, "sbagliata", "una-password-lunga").status_code == 422
    page = parse(login_as(app, "admin").get(
        "/area-personale/registro-attivita?tipo=password_change_failed"))
    rows = [[visible_text(td) for td in tr.find_all("td")] for tr in page.select("tbody tr")]
    assert [row[1:3] for row in rows] == [["Cambio password: password attuale errata", "operatore1"]]


def test_guessing_the_current_password_is_throttled_as_a_login_is(app):
    client = login_as(app, "operatore1")
    for _ in range(10):
        assert change(client, "sbagliata", "una-password-lunga").status_code == 422
    response = change(client, "demo", "una-password-lunga")  # even the right one, now
    assert response.status_code == 429
    assert "Troppi tentativi" in visible_text(parse(response).find(id="current_password-error"))
    # one throttle for both doors: the login from this address is refused too
    assert AuthActions(app.test_client()).login("operatore1").status_code == 429
    # the password is unchanged, and from another address its owner still logs in
    elsewhere = app.test_client().post("/login", data={"username": "operatore1", "password": "demo"},
                                       environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert elsewhere.status_code == 302
