"""Production is the default and fails closed: no start without its secrets, no development
stand-ins; development (PORTAL_ENV=development, as make run and the tests) must be asked for."""

import base64
import os
import stat
import tempfile

import pytest
from conftest import login_as, make_test_app, owner_url, parse, visible_text
from smart_helpers import client, set_option7

import db_roles
import demo
import models
from app import ConfigurationError, create_app
from models import SmartToken

SECRET_KEY = "k" * 64
SERVICES = {
    "SMART_SERVICE_URLS": {"fattura_smart": "https://fattura.example/entra"},
    "SMART_SERVICE_SECRETS": {"fattura_smart": "segreto-di-fattura"},
}


@pytest.fixture
def production_env(monkeypatch):
    """An environment that asks for nothing: production."""
    for name in ("PORTAL_ENV", "SECRET_KEY", "SMART_SERVICE_URLS", "SMART_SERVICE_SECRETS",
                 *MAIL_SETTINGS, "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL"):
        monkeypatch.delenv(name, raising=False)


# What production needs for mail (mail.settings_problems), given unless a test says otherwise.
MAIL_SETTINGS = {
    "MAIL_SERVER": "smtp.studio.example",
    "MAIL_DEFAULT_SENDER": "portale@studio.example",
    "PORTAL_URL": "https://portale.studio.example",
    "QUEUE_URL": f"sqlite:///{tempfile.mkdtemp(prefix='queue-')}/queue.db",
}


def production_app(database_url, **settings):
    config = {"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
              "MIGRATE_DATABASE_URL": owner_url(database_url), **MAIL_SETTINGS}
    config.update(settings)
    return create_app(config)


def refusal(database_url, **settings) -> str:
    with pytest.raises(ConfigurationError) as raised:
        production_app(database_url, **settings)
    return str(raised.value)


@pytest.fixture
def running_production(database_url, production_env):
    app = production_app(database_url, SECRET_KEY=SECRET_KEY, **SERVICES)
    db_roles.migrate(app.config["MIGRATE_DATABASE_URL"], app.config["DATABASE_URL"])  # as `migrate`
    with models.db.connection_context():
        demo.seed(password="demo")
        set_option7(on=True)
    yield app
    models.db.close_all()


def basic(code, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{code}:{secret}".encode()).decode()}


def test_production_refuses_to_start_without_a_secret_key(database_url, production_env):
    message = refusal(database_url, **SERVICES)
    assert "produzione" in message and "SECRET_KEY" in message
    assert "PORTAL_ENV=development" in message


def test_production_refuses_to_start_without_a_secret_for_every_service_it_offers(
        database_url, production_env):
    message = refusal(database_url, SECRET_KEY=SECRET_KEY, SMART_SERVICE_URLS={
        "fattura_smart": "https://fattura.example/entra", "smart_hub": "https://hub.example/"},
        SMART_SERVICE_SECRETS={"fattura_smart": "segreto"})
    assert "SMART_SERVICE_SECRETS" in message and "smart_hub" in message
    assert "fattura_smart" not in message


def test_production_names_every_problem_at_once(database_url, production_env):
    message = refusal(database_url, SMART_SERVICE_SECRETS="{non è json")
    assert "SECRET_KEY" in message and "SMART_SERVICE_SECRETS non è un oggetto JSON" in message


@pytest.mark.parametrize("secrets", ["{non è json", "[]", '"x"', '{"fattura_smart": ""}',
                                     '{"fattura_smart": 5}', '{"fattura_smart": null}',
                                     '{"fattura_smart": "   "}'])
@pytest.mark.parametrize("mode", ["production", "development"])
def test_malformed_service_secrets_refuse_to_start_in_either_mode(
        database_url, production_env, secrets, mode):
    # Before: a malformed setting was ignored, and every service accepted dev-secret-<code>.
    message = refusal(database_url, PORTAL_ENV=mode, SECRET_KEY=SECRET_KEY,
                      SMART_SERVICE_SECRETS=secrets)
    assert "SMART_SERVICE_SECRETS" in message


@pytest.mark.parametrize("urls", ["{", '{"fattura_smart": "javascript:alert(1)"}',
                                  '{"fattura_smart": "/relativo"}', '{"fattura_smart": 1}'])
def test_malformed_launch_urls_refuse_to_start(database_url, production_env, urls):
    message = refusal(database_url, SECRET_KEY=SECRET_KEY, SMART_SERVICE_URLS=urls)
    assert "SMART_SERVICE_URLS" in message


def test_the_settings_are_read_from_the_environment(database_url, production_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("SMART_SERVICE_URLS", '{"smart_hub": "https://hub.example/"}')
    message = refusal(database_url)
    assert "smart_hub" in message and "SECRET_KEY" not in message
    monkeypatch.setenv("SMART_SERVICE_SECRETS", '{"smart_hub": "segreto"}')
    assert production_app(database_url).config["DEVELOPMENT"] is False
    models.db.close_all()


def test_production_refuses_to_start_without_its_mail_settings(database_url, production_env):
    message = refusal(database_url, SECRET_KEY=SECRET_KEY, MAIL_SERVER=None,
                      MAIL_DEFAULT_SENDER=None, PORTAL_URL="http://127.0.0.1:8000")
    assert "MAIL_SERVER non impostata" in message
    assert "MAIL_DEFAULT_SENDER non valida" in message
    assert "PORTAL_URL punta a questo computer" in message


@pytest.mark.parametrize("settings, problem", [
    ({"PORTAL_URL": "portale.studio.it"}, "PORTAL_URL non valida"),
    ({"MAIL_USE_TLS": True, "MAIL_USE_SSL": True}, "MAIL_USE_TLS e MAIL_USE_SSL si escludono"),
    ({"MAIL_PORT": "venticinque"}, "MAIL_PORT non valida"),
    ({"MAIL_PORT": 70000}, "MAIL_PORT non valida"),
    ({"MAIL_DEFAULT_SENDER": "Portale"}, "MAIL_DEFAULT_SENDER non valida"),
    ({"QUEUE_URL": "memory://"}, "QUEUE_URL=memory:// vale solo dentro un processo"),
    ({"QUEUE_URL": "amqp://coda"}, "QUEUE_URL non valida"),
])
def test_production_refuses_obviously_wrong_mail_settings(database_url, production_env,
                                                          settings, problem):
    assert problem in refusal(database_url, SECRET_KEY=SECRET_KEY, **settings)


def test_the_mail_settings_are_read_from_the_environment(database_url, production_env,
                                                          monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "porta")
    monkeypatch.setenv("MAIL_USE_TLS", "1")
    monkeypatch.setenv("MAIL_USE_SSL", "true")
    config = {name: None for name in MAIL_SETTINGS} | {"QUEUE_URL": MAIL_SETTINGS["QUEUE_URL"]}
    with pytest.raises(ConfigurationError) as raised:
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
                    **{k: v for k, v in config.items() if v is not None}})
    message = str(raised.value)
    assert "MAIL_PORT non valida: 'porta'" in message
    assert "MAIL_USE_TLS e MAIL_USE_SSL si escludono" in message
    monkeypatch.setenv("MAIL_PORT", "587")
    monkeypatch.delenv("MAIL_USE_SSL")
    for name, value in MAIL_SETTINGS.items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY})
    assert (app.config["MAIL_SERVER"], app.config["MAIL_PORT"], app.config["MAIL_USE_TLS"]) == (
        "smtp.studio.example", 587, True)
    assert app.config["PORTAL_URL"] == "https://portale.studio.example"
    models.db.close_all()


def test_development_mails_to_the_local_mail_server(database_url, production_env):
    app = create_app({"PORTAL_ENV": "development", "DATABASE_URL": database_url,
                      "QUEUE_URL": "memory://"})
    assert (app.config["MAIL_SERVER"], app.config["MAIL_PORT"]) == ("127.0.0.1", 8025)
    assert app.config["MAIL_DEFAULT_SENDER"] == "portale@studio.example"
    assert app.config["PORTAL_URL"] == "http://127.0.0.1:8000"
    models.db.close_all()


@pytest.mark.parametrize("mode", ["", "Development", "dev", "prod", "test"])
def test_only_the_exact_word_asks_for_development(database_url, production_env, monkeypatch, mode):
    monkeypatch.setenv("PORTAL_ENV", mode)
    assert "SECRET_KEY" in refusal(database_url)


def test_development_fills_in_the_secret_key(database_url, production_env):
    app = production_app(database_url, PORTAL_ENV="development")
    assert app.config["DEVELOPMENT"] is True and len(app.config["SECRET_KEY"]) >= 32
    models.db.close_all()


def test_production_has_no_stand_in_service_page(running_production):
    assert "smart.simulated_service" not in running_production.view_functions
    http = running_production.test_client()
    assert http.get("/servizio-smart-simulato/fattura_smart").status_code == 404
    assert http.post("/servizio-smart-simulato/fattura_smart", data={"token": "x"}).status_code == 404


def test_production_accepts_no_development_secret(running_production):
    http = running_production.test_client()
    # a service with no secret configured (smart_hub) authenticates nobody
    for code in ("smart_hub", "fattura_smart"):
        response = http.post("/servizi-smart/introspezione", data={"token": "x"},
                             headers=basic(code, f"dev-secret-{code}"))
        assert response.status_code == 401, code
    response = http.post("/servizi-smart/introspezione", data={"token": "x"},
                         headers=basic("fattura_smart", "segreto-di-fattura"))
    assert response.status_code == 200 and response.get_json() == {"active": False}


def test_production_hands_off_to_configured_services_only(running_production):
    admin = login_as(running_production, "admin")
    response = admin.post(f"/servizi-smart/{client('PINK').id}/fattura_smart/accedi")
    form = parse(response).find("form", attrs={"data-auto-submit": True})
    assert form["action"] == "https://fattura.example/entra"
    response = admin.post(f"/servizi-smart/{client('PINK').id}/smart_hub/accedi")
    assert response.status_code == 503
    assert "non è ancora configurato" in visible_text(parse(response).find("main"))
    with models.db.connection_context():
        assert SmartToken.select().count() == 1  # only fattura_smart's


def test_seed_demo_refuses_to_run_in_production(running_production):
    result = running_production.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "solo in sviluppo" in result.output and "PORTAL_ENV=development" in result.output


def test_migrate_runs_in_production_once_configured(database_url, production_env):
    app = production_app(database_url, SECRET_KEY=SECRET_KEY, **SERVICES)
    result = app.test_cli_runner().invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    assert "Migrazioni applicate" in result.output
    models.db.close_all()


# --- files readable by the owner only ----------------------------------------------


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_sqlite_database_and_the_instance_folder_are_the_owners_only(tmp_path):
    database = tmp_path / "portale.db"
    app = make_test_app(f"sqlite:///{database}")
    assert mode_of(app.instance_path) == 0o700
    assert mode_of(database) == 0o600
    for journal in tmp_path.glob("portale.db-*"):  # WAL and shared memory, if left
        assert mode_of(journal) == 0o600, journal.name
    models.db.close_all()


def test_an_existing_database_open_to_others_is_closed(tmp_path):
    database = tmp_path / "vecchio.db"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    make_test_app(f"sqlite:///{database}")
    assert mode_of(database) == 0o600
    models.db.close_all()
