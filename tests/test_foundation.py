"""The ground rules: every view declares who may use it, the schema, the CLI, health."""

import datetime as dt

import pytest
from conftest import counting_statements, login_as, make_test_app, parse
from flask_login import current_user
from peewee import IntegrityError

import consent
import demo
import models
from app import create_app
from italian import format_datetime, today_in_capitals
from migrations import run_migrations
from models import Client, ConsentEvent, User


def test_every_view_declares_who_may_use_it(app):
    undeclared = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and getattr(app.view_functions[rule.endpoint], "allowed_roles", None) is None
    ]
    assert undeclared == []


def test_every_non_public_page_sends_anonymous_users_to_login(app, client):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint == "static" or view.allowed_roles == "public" or rule.arguments:
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(rule.rule, method=method)
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"].startswith("/login")


OUR_MODULES = {"app", "views", "italian", "smart_access", "consent", "studio_settings"}


@pytest.mark.parametrize("username", ["admin", "operatore1", "pink"])
def test_template_globals_read_no_table(app, username):
    """Views hand templates their data: what every template can call queries nothing."""
    session_cookie = login_as(app, username).get_cookie(app.config["SESSION_COOKIE_NAME"])
    headers = {"Cookie": f"{session_cookie.key}={session_cookie.value}"}
    with app.test_request_context("/area-personale/cambio-password", headers=headers):
        assert current_user.is_authenticated  # loading the user may query; the rest may not
        with counting_statements() as counter:
            context = dict(app.jinja_env.globals)
            for processor in app.template_context_processors[None]:
                context.update(processor())
            ours = {name: value for name, value in context.items() if callable(value)
                    and getattr(value, "__module__", "").partition(".")[0] in OUR_MODULES}
            for function in ours.values():
                function()
        assert counter.statements == []
        assert set(ours) == {"area_menu", "today_label"}


def test_migrating_twice_is_harmless(app, db):
    assert run_migrations() == []
    assert Client.select().count() > 0


@pytest.mark.database_owner  # the triggers: the runtime role is refused earlier, by its rights
def test_consent_events_cannot_be_changed_or_deleted(app, db):
    event = ConsentEvent.select().first()
    with pytest.raises(Exception, match="append-only"):
        with models.db.atomic():
            ConsentEvent.update(kind="granted").where(ConsentEvent.id == event.id).execute()
    with pytest.raises(Exception, match="append-only"):
        with models.db.atomic():
            ConsentEvent.delete().where(ConsentEvent.id == event.id).execute()
    assert ConsentEvent.get_by_id(event.id).kind == event.kind


def test_usernames_are_unique_whatever_the_case(app, db):
    admin = User.get(User.username == "admin")
    with pytest.raises(IntegrityError), models.db.atomic():
        User.create(studio=admin.studio, username=User.normalize_username("ADMIN"),
                    display_name="x", password_hash="x", role="admin")


def test_client_codes_are_unique_per_studio_only(app, db):
    codes = Client.select(Client.studio, Client.code).where(Client.code == "000088")
    assert len({row.studio_id for row in codes}) == 2


def test_seed_demo_is_idempotent_and_adds_synthetic_clients(app, runner, db):
    before = Client.select().count()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin.alt" in result.output
    assert Client.select().count() == before
    result = runner.invoke(args=["seed-demo", "--clients", "250"])
    assert result.exit_code == 0, result.output
    assert Client.select().count() == before + 250
    runner.invoke(args=["seed-demo", "--clients", "250"])
    assert Client.select().count() == before + 250
    with_smart = Client.select().where(Client.code.startswith("S") & consent.with_smart_service())
    assert 150 <= with_smart.count() < 250


def test_demo_states_match_the_release_note(app, db):
    pink = Client.get(Client.code == "PINK")
    assert format_datetime(pink.consent_requested_at) == "18/06/2020 11:20"
    assert format_datetime(pink.consent_answered_at) == "18/06/2020 11:21"
    assert pink.consent_answer == "granted"
    states = {c.consent_answer for c in Client.select().where(Client.studio == pink.studio_id)}
    assert states == {None, "pending", "granted", "declined"}


def test_demo_consent_state_is_what_its_events_say(app, db):
    for client in Client.select():
        events = ConsentEvent.select().where(ConsentEvent.client == client).order_by(ConsentEvent.id)
        assert consent.state_from_events(events) == (
            client.consent_requested_at, client.consent_answer, client.consent_answered_at
        ), client.code


def test_create_user_asks_for_the_password(app, runner, db):
    result = runner.invoke(
        args=["create-user", "--studio", "BPF103", "--username", "Nuovo.Admin", "--name", "Nuovo"],
        input="password-robusta-1\npassword-robusta-1\n",
    )
    assert result.exit_code == 0, result.output
    assert User.get(User.username == "nuovo.admin").role == "admin"
    result = runner.invoke(
        args=["create-user", "--studio", "BPF103", "--username", "corto", "--name", "C"],
        input="corta\ncorta\n",
    )
    assert result.exit_code != 0 and "almeno 12 caratteri" in result.output


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app({"PORTAL_ENV": "development", "TESTING": True, "SECRET_KEY": "x",
                      "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    models.db.close_all()


def test_dates_are_shown_in_italian_and_in_rome_time():
    assert today_in_capitals(dt.datetime(2026, 11, 28, 10, tzinfo=dt.UTC)) == "SABATO 28 NOVEMBRE 2026"
    # 23:30 UTC on 31 Dec is already 1 January in Rome
    assert today_in_capitals(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == "VENERDÌ 1 GENNAIO 2027"
    assert format_datetime(dt.datetime(2020, 6, 18, 9, 20)) == "18/06/2020 11:20"
    assert format_datetime(None) == ""


def test_unknown_page_is_a_clear_404(app):
    response = login_as(app, "admin").get("/non-esiste")
    assert response.status_code == 404
    assert "Pagina non trovata" in parse(response).find("h1").get_text()


def test_responses_carry_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_empty_database_has_schema_but_no_data(empty_app):
    with models.db.connection_context():
        assert Client.select().count() == 0
        demo.seed(password="demo")
        assert Client.select().count() > 0


def test_second_app_on_same_database_sees_same_data(database_url, app):
    other = make_test_app(database_url)
    with models.db.connection_context():
        assert User.get(User.username == "admin")
    assert other is not None


def test_statement_counter_counts_each_statement(app, db):
    from conftest import counting_statements

    with counting_statements() as counter:
        Client.select().count()
        list(User.select().limit(2))
    assert counter.count == 2
