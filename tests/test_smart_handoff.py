"""Opening a SMART service: the rule re-checked, the attempt recorded, the token handed off
in a form's body (never a URL), and the introspection that tells the service whether to trust it."""

import base64
import datetime as dt

import pytest
from conftest import login_as, make_test_app, parse, visible_text
from smart_helpers import client, set_option7, set_switch

import consent
import demo
import models
import smart_handoff
from models import AccessEvent, SmartToken, User


@pytest.fixture
def smart_on(db):
    set_option7(on=True)
    set_switch("operatore1", on=True)
    set_switch("operatore2", on=True)


def open_url(code="PINK", service_code="fattura_smart", studio="BPF103"):
    return f"/servizi-smart/{client(code, studio).id}/{service_code}/accedi"


def handoff_form(response):
    """The form that posts the token to the service: (its action, its fields)."""
    form = parse(response).find("form", attrs={"data-auto-submit": True})
    assert form is not None, "no hand-off form"
    assert form["method"] == "post"
    fields = {field["name"]: field["value"] for field in form.find_all("input")}
    return form["action"], fields


def token_of(response):
    return handoff_form(response)[1]["token"]


def stand_in(http, response):
    """What the browser does with the hand-off page: post its form (the stand-in has no session)."""
    action, fields = handoff_form(response)
    return http.post(action, data=fields)


def basic(service_code, secret=None):
    secret = secret if secret is not None else f"dev-secret-{service_code}"
    raw = base64.b64encode(f"{service_code}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def introspect(http, token, service_code="fattura_smart", secret=None):
    return http.post("/servizi-smart/introspezione", data={"token": token},
                     headers=basic(service_code, secret))


def last_event():
    return AccessEvent.select().order_by(AccessEvent.id.desc()).first()


def test_opening_a_service_records_it_and_hands_off_a_token(app, smart_on):
    operator = login_as(app, "operatore1")
    response = operator.post(open_url())
    assert response.status_code == 200 and "Location" not in response.headers
    action, fields = handoff_form(response)
    assert action == "/servizio-smart-simulato/fattura_smart"
    token = fields["token"]
    assert set(fields) == {"token"}
    assert token not in action
    page = parse(response)
    assert page.find("form", attrs={"data-auto-submit": True}).find(
        "button", string="Continua") is not None  # without JavaScript
    assert response.headers["Cache-Control"] == "no-store"
    event = last_event()
    assert (event.user.username, event.client.code, event.service.code, event.granted) == (
        "operatore1", "PINK", "fattura_smart", True)
    stored = SmartToken.get()
    assert stored.token_hash != token and token not in repr(list(SmartToken.select().tuples()))
    assert stored.expires_at - stored.issued_at <= dt.timedelta(seconds=60)
    assert (stored.user.username, stored.client.code, stored.studio.code) == ("operatore1", "PINK", "BPF103")

    answer = introspect(app.test_client(), token).get_json()
    assert answer["active"] is True
    assert {k: answer[k] for k in ("studio", "client", "service", "user")} == {
        "studio": "BPF103", "client": "PINK", "service": "fattura_smart", "user": "operatore1"}
    assert answer["exp"] - answer["iat"] <= 60


def test_the_hand_off_page_runs_under_the_csp_with_our_script_only(app, smart_on):
    response = login_as(app, "operatore1").post(open_url())
    page = parse(response)
    scripts = page.find_all("script")
    assert scripts and all(script.get("src", "").startswith("/static/") and not script.string
                           for script in scripts)
    csp = response.headers["Content-Security-Policy"]
    assert "form-action 'self';" in csp and "unsafe-inline" not in csp


def test_htmx_hand_off_puts_the_form_into_the_messages(app, smart_on, hx):
    response = login_as(app, "admin").post(open_url("000088", "smart_hub"), headers=hx())
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#messages"
    assert "HX-Redirect" not in response.headers and "HX-Location" not in response.headers
    assert parse(response).find("header") is None  # only the form
    action, fields = handoff_form(response)
    assert action == "/servizio-smart-simulato/smart_hub" and fields["token"]


def test_a_token_is_active_once_only(app, smart_on):
    token = token_of(login_as(app, "admin").post(open_url()))
    service_client = app.test_client()
    assert introspect(service_client, token).get_json()["active"] is True
    assert introspect(service_client, token).get_json() == {"active": False}


def test_an_expired_token_is_inactive(app, smart_on, monkeypatch):
    issued = models.utcnow()
    monkeypatch.setattr(smart_handoff, "utcnow", lambda: issued)
    token = token_of(login_as(app, "admin").post(open_url()))
    late = token_of(login_as(app, "admin").post(open_url()))
    monkeypatch.setattr(smart_handoff, "utcnow", lambda: issued + dt.timedelta(seconds=59))
    assert introspect(app.test_client(), token).get_json()["active"] is True
    monkeypatch.setattr(smart_handoff, "utcnow", lambda: issued + dt.timedelta(seconds=61))
    assert introspect(app.test_client(), late).get_json() == {"active": False}
    # Presented late, the token is used up and the log says why it was refused.
    assert (last_event().stage, last_event().granted, last_event().reason) == (
        "service", False, "token_scaduto")


def test_a_token_whose_consent_was_revoked_after_issue_is_inactive(app, smart_on):
    token = token_of(login_as(app, "operatore1").post(open_url()))
    pink = client("PINK")
    consent.set_authorization(pink, User.get(User.client == pink), False)
    assert introspect(app.test_client(), token).get_json() == {"active": False}


def test_a_token_is_inactive_if_consent_was_revoked_and_granted_again_since(app, smart_on):
    token = token_of(login_as(app, "operatore1").post(open_url()))
    pink = client("PINK")
    pink_user = User.get(User.client == pink)
    consent.set_authorization(pink, pink_user, False)
    consent.set_authorization(client("PINK"), pink_user, True)
    assert introspect(app.test_client(), token).get_json() == {"active": False}


def test_a_token_is_inactive_once_the_operator_lost_access(app, smart_on):
    token = token_of(login_as(app, "operatore1").post(open_url()))
    set_switch("operatore1", on=False)
    assert introspect(app.test_client(), token).get_json() == {"active": False}


def test_a_token_is_only_for_the_service_it_was_issued_for(app, smart_on):
    token = token_of(login_as(app, "admin").post(open_url("PINK", "fattura_smart")))
    service_client = app.test_client()
    assert introspect(service_client, token, "smart_hub").get_json() == {"active": False}
    assert introspect(service_client, token, "fattura_smart").get_json()["active"] is True


@pytest.mark.parametrize("headers", [
    {}, basic("fattura_smart", "sbagliato"), basic("sconosciuto", "x"), basic("fattura_smart", ""),
    {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!!"},
])
def test_introspection_needs_the_services_secret(app, smart_on, headers):
    token = token_of(login_as(app, "admin").post(open_url()))
    response = app.test_client().post("/servizi-smart/introspezione", data={"token": token}, headers=headers)
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert introspect(app.test_client(), token).get_json()["active"] is True  # not consumed


@pytest.mark.parametrize("token", ["", "x" * 5000, "non-esiste"])
def test_introspection_of_garbage_is_inactive(app, smart_on, token):
    response = introspect(app.test_client(), token)
    assert response.status_code == 200 and response.get_json() == {"active": False}


def test_secrets_and_launch_urls_come_from_configuration(database_url):
    app = make_test_app(database_url,
                        SMART_SERVICE_SECRETS={"fattura_smart": "segreto-vero"},
                        SMART_SERVICE_URLS={"fattura_smart": "https://fattura.example/entra?da=portale"})
    with models.db.connection_context():
        demo.seed(password="demo")
        set_option7(on=True)
    admin = login_as(app, "admin")
    response = admin.post(open_url())
    action, fields = handoff_form(response)
    assert action == "https://fattura.example/entra?da=portale"
    # this page's forms may post to that service, and only to it
    csp = response.headers["Content-Security-Policy"]
    assert "form-action 'self' https://fattura.example;" in csp
    csp = admin.get("/servizi-smart").headers["Content-Security-Policy"]
    assert "form-action 'self' https://fattura.example" in csp
    token = fields["token"]
    assert introspect(app.test_client(), token).status_code == 401  # the dev secret no longer works
    answer = introspect(app.test_client(), token, secret="segreto-vero").get_json()
    assert answer["active"] is True
    models.db.close_all()


def test_secrets_and_launch_urls_come_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("SMART_SERVICE_SECRETS", '{"fattura_smart": "segreto-da-ambiente"}')
    monkeypatch.setenv("SMART_SERVICE_URLS", '{"fattura_smart": "https://fattura.example/entra"}')
    app = make_test_app(database_url)
    monkeypatch.delenv("SMART_SERVICE_SECRETS")  # read once, by create_app
    monkeypatch.delenv("SMART_SERVICE_URLS")
    try:
        with models.db.connection_context():
            demo.seed(password="demo")
            set_option7(on=True)
        response = login_as(app, "admin").post(open_url())
        assert handoff_form(response)[0] == "https://fattura.example/entra"
        answer = introspect(app.test_client(), token_of(response), secret="segreto-da-ambiente")
        assert answer.get_json()["active"] is True
    finally:
        models.db.close_all()


def test_refusals_are_recorded_and_hand_off_nothing(app, smart_on, hx):
    intruder = login_as(app, "operatore2")  # PINK is operatore1's client
    response = intruder.post(open_url())
    assert response.status_code == 403
    assert "Non gestisci questo cliente." in visible_text(parse(response).find("main"))
    event = last_event()
    assert (event.user.username, event.client.code, event.granted, event.reason) == (
        "operatore2", "PINK", False, "cliente_non_gestito")
    assert SmartToken.select().count() == 0
    response = intruder.post(open_url(), headers=hx())
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#messages"
    assert response.headers["HX-Trigger"] == "smart-access-refused"


@pytest.mark.parametrize("path", ["/servizi-smart/999999/fattura_smart/accedi",
                                  "/servizi-smart/{pink}/servizio_finto/accedi",
                                  "/servizi-smart/{alt}/fattura_smart/accedi"])
def test_forged_urls_are_refused_and_recorded_without_foreign_rows(app, smart_on, path):
    set_option7("ALT001", on=True)
    path = path.format(pink=client("PINK").id, alt=client("ALT-0001", "ALT001").id)
    response = login_as(app, "admin").post(path)
    assert response.status_code == 403
    event = last_event()
    assert not event.granted and event.studio.code == "BPF103"
    assert event.client is None or event.client.studio.code == "BPF103"
    assert SmartToken.select().count() == 0


def test_clients_cannot_open_services(app, smart_on):
    assert login_as(app, "pink").post(open_url()).status_code == 403
    assert AccessEvent.select().count() == 0


@pytest.mark.database_owner  # the triggers: the runtime role is refused earlier, by its rights
def test_access_events_are_append_only(app, smart_on):
    login_as(app, "admin").post(open_url())
    with pytest.raises(Exception, match="append-only"), models.db.atomic():
        AccessEvent.delete().execute()


def test_the_stand_in_page_validates_the_posted_token_and_shows_whom_it_serves(app, smart_on):
    operator = login_as(app, "operatore1")
    response = operator.post(open_url())
    page = stand_in(app.test_client(), response)
    assert page.status_code == 200
    text = visible_text(parse(page).find("main"))
    assert "simula il prodotto esterno «Fattura SMART»" in text
    assert "Marco Operatore (operatore1)" in text and "Pink S.r.l. (codice PINK)" in text
    again = stand_in(app.test_client(), response)
    assert again.status_code == 401
    assert "Accesso non valido" in visible_text(parse(again).find("main"))
    assert app.test_client().post("/servizio-smart-simulato/boh", data={"token": "x"}).status_code == 404


def test_the_stand_in_page_takes_no_token_from_its_url(app, smart_on):
    token = token_of(login_as(app, "operatore1").post(open_url()))
    page = app.test_client().get(f"/servizio-smart-simulato/fattura_smart?token={token}")
    assert page.status_code == 401
    assert introspect(app.test_client(), token).get_json()["active"] is True  # not consumed


def test_the_stand_in_service_page_names_its_icon(app, smart_on):
    # without it the browser asks for /favicon.ico, a 404 in the console of every hand-off
    page = parse(stand_in(app.test_client(), login_as(app, "admin").post(open_url())))
    icon = page.find("link", rel="icon")
    assert icon is not None and app.test_client().get(icon["href"]).status_code == 200


# --- the introspection's throttle -----------------------------------------------------


@pytest.fixture
def throttled_app(database_url):
    app = make_test_app(database_url, INTROSPECTION_LIMIT_PER_SERVICE="3 per minute",
                        FAILED_INTROSPECTION_LIMIT_PER_ADDRESS="2 per minute")
    with models.db.connection_context():
        demo.seed(password="demo")
    yield app
    models.db.close_all()


def test_the_introspection_is_throttled_per_service(throttled_app):
    service = throttled_app.test_client()
    for _ in range(3):
        assert introspect(service, "non-esiste").status_code == 200
    assert introspect(service, "non-esiste").status_code == 429
    # another service has its own allowance
    assert introspect(service, "non-esiste", "smart_hub").status_code == 200


def test_failed_authentications_cannot_use_up_a_services_allowance(throttled_app):
    attacker = throttled_app.test_client()
    for _ in range(2):
        assert introspect(attacker, "x", secret="indovino").status_code == 401
    for _ in range(10):  # held back, however long it insists
        assert introspect(attacker, "x", secret="indovino").status_code == 429
    assert introspect(attacker, "x").status_code == 429  # that address is held back
    real_service = throttled_app.test_client()
    for _ in range(3):  # the service's whole allowance is still there
        response = real_service.post("/servizi-smart/introspezione", data={"token": "x"},
                                     headers=basic("fattura_smart"),
                                     environ_base={"REMOTE_ADDR": "198.51.100.20"})
        assert response.status_code == 200 and response.get_json() == {"active": False}
