"""Failed logins are throttled per address and per account and address, in memory or in
Redis; per account they only wait, so nobody can lock the owner out; logins are logged
without the password."""

import logging
import socket
import uuid

import pytest
from conftest import login_as, make_test_app, parse, visible_text

import demo
import models
from models import AuditEvent

THROTTLED = "Troppi tentativi di accesso non riusciti."


def attempt(client, username, password="sbagliata", address="198.51.100.7"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["memory", "redis"])
def throttled_app(request, database_url):
    if request.param == "memory":
        config = {}
    else:
        if not redis_running():
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        # a prefix of its own, so parallel runs never share counters
        config = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
                  "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    app = make_test_app(database_url, **config)
    with models.db.connection_context():
        demo.seed(password="demo")
    yield app
    models.db.close_all()


def test_the_store_is_the_configured_one(throttled_app):
    from throttle import limiter_for

    uri = throttled_app.config["RATELIMIT_STORAGE_URI"]
    storage = limiter_for(throttled_app).storage
    assert type(storage).__name__ == ("RedisStorage" if uri.startswith("redis")
                                      else "MemoryStorage")


@pytest.fixture
def waits(monkeypatch):
    """The waits the throttle asks for, recorded instead of slept."""
    import throttle

    asked = []
    monkeypatch.setattr(throttle.time, "sleep", asked.append)
    return asked


def test_wrong_passwords_from_anywhere_never_lock_the_owner_out(throttled_app):
    client = throttled_app.test_client()
    for number in range(40):  # a botnet: forty addresses, one guess each
        attempt(client, "admin", address=f"198.51.100.{number}")
    for _ in range(10):  # and one address guessing until it is refused
        attempt(client, "admin", address="203.0.113.9")
    assert attempt(client, "admin", "demo", address="203.0.113.9").status_code == 429
    # The owner, from his own address, still gets in with his password.
    assert attempt(client, "admin", "demo", address="192.0.2.10").status_code == 302


def test_failures_on_an_account_make_its_logins_wait_a_little_growing_and_capped(
        throttled_app, waits):
    throttled_app.config.update(LOGIN_DELAY_STEP_SECONDS=0.1, LOGIN_DELAY_MAX_SECONDS=1.0)
    client = throttled_app.test_client()
    for number in range(10):  # the first ten failures cost nothing
        attempt(client, "admin", address=f"198.51.100.{number}")
    assert waits == []
    for number in range(10, 15):
        attempt(client, "admin", address=f"198.51.100.{number}")
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4])
    owner = throttled_app.test_client()
    assert attempt(owner, "admin", "demo", address="192.0.2.10").status_code == 302
    assert waits[-1] == pytest.approx(0.5)  # the owner waited half a second, and got in
    for number in range(15, 40):
        attempt(client, "admin", address=f"198.51.100.{number}")
    assert waits[-1] == pytest.approx(1.0) and max(waits) == pytest.approx(1.0)  # the cap
    waits.clear()  # other accounts wait nothing
    assert attempt(client, "operatore1", "demo", address="192.0.2.10").status_code == 302
    assert waits == []


def test_ten_failures_from_one_address_on_one_account_block_that_pair_only(throttled_app):
    client = throttled_app.test_client()
    for _ in range(10):
        assert attempt(client, "operatore1", address="198.51.100.7").status_code == 401
    response = attempt(client, "operatore1", "demo", address="198.51.100.7")
    assert response.status_code == 429
    assert THROTTLED in visible_text(parse(response).find(role="alert"))
    # the same account in upper case is the same account
    assert attempt(client, "OPERATORE1", "demo", address="198.51.100.7").status_code == 429
    # the account from another address, and other accounts from this one, are not refused
    fresh = throttled_app.test_client
    assert attempt(fresh(), "operatore1", "demo", address="198.51.100.8").status_code == 302
    assert attempt(fresh(), "operatore2", "demo", address="198.51.100.7").status_code == 302


def test_each_app_keeps_its_own_counts(throttled_app, database_url):
    """Another app built in the same process (as the tests do) takes nothing from this one."""
    client = throttled_app.test_client()
    for _ in range(10):
        attempt(client, "operatore1")
    other = make_test_app(database_url)  # counting in memory, from zero
    assert attempt(client, "operatore1", "demo").status_code == 429
    assert attempt(other.test_client(), "operatore1", "demo").status_code == 302


def test_successful_logins_are_not_counted(throttled_app):
    for _ in range(15):
        client = throttled_app.test_client()
        assert attempt(client, "admin", "demo").status_code == 302


def test_fifty_failures_from_one_address_block_that_address(throttled_app):
    client = throttled_app.test_client()
    for number in range(50):  # fifty different accounts: the address limit alone applies
        assert attempt(client, f"nessuno{number}", address="203.0.113.5").status_code == 401
    assert attempt(client, "admin", "demo", address="203.0.113.5").status_code == 429
    assert attempt(client, "admin", "demo", address="203.0.113.6").status_code == 302


def test_the_block_ends_when_the_window_has_passed(throttled_app, monkeypatch):
    import time

    client = throttled_app.test_client()
    for _ in range(10):
        attempt(client, "operatore2")
    assert attempt(client, "operatore2", "demo").status_code == 429
    if throttled_app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        return  # Redis keeps its own clock; the memory store shows the window moving
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 15 * 60 + 1)
    assert attempt(client, "operatore2", "demo").status_code == 302


def test_htmx_login_past_the_limit_is_refused_too(throttled_app):
    client = throttled_app.test_client()
    for _ in range(10):
        attempt(client, "admin")
    response = client.post("/login", data={"username": "admin", "password": "demo"},
                           headers={"HX-Request": "true"},
                           environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 429
    assert "HX-Redirect" not in response.headers


def test_counting_in_memory_outside_the_tests_is_announced_at_start(database_url, caplog):
    """Gunicorn's workers are separate processes: each would count on its own."""
    with caplog.at_level(logging.WARNING, logger="portal.throttle"):
        make_test_app(database_url, TESTING=False)
        per_worker = [r.getMessage() for r in caplog.records if r.name == "portal.throttle"]
        caplog.clear()
        make_test_app(database_url, TESTING=False,
                      RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379")
        shared = [r.getMessage() for r in caplog.records if r.name == "portal.throttle"]
    models.db.close_all()
    assert len(per_worker) == 1 and "RATELIMIT_STORAGE_URI=redis://" in per_worker[0]
    assert shared == []


def test_logins_are_logged_and_audited_without_the_password(app, caplog):
    canary = "canarino-Zq7xP3-segreto"
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        attempt(client, "admin", canary)
        attempt(client, canary, canary)  # a password typed in both fields
        for _ in range(11):
            attempt(client, "operatore1", canary)
        client.post("/login", data={"username": "admin", "password": "demo"})
        client.post("/area-personale/cambio-password", data={
            "current_password": "demo", "new_password": canary + "-nuova",
            "repeat_password": canary + "-nuova"})
    messages = "\n".join(record.getMessage() for record in caplog.records)
    assert "login_failed" in messages and "login: user=admin" in messages
    assert "login_throttled" in messages
    assert canary not in messages.replace(f"username='{canary.lower()}'", "")
    with models.db.connection_context():
        rows = [repr(row) for row in AuditEvent.select().tuples()]
        kinds = [event.kind for event in AuditEvent.select()]
    assert "login_failed" in kinds and "login" in kinds and "password_changed" in kinds
    assert not any(canary + "-nuova" in row for row in rows)
    assert not any(canary in row for row in rows if "login_failed" not in row)


def test_a_failed_login_is_audited_for_the_studio_of_the_account(app):
    attempt(app.test_client(), "operatore1", address="192.0.2.44")
    with models.db.connection_context():
        event = AuditEvent.select().where(AuditEvent.kind == "login_failed").get()
        assert event.studio.code == "BPF103"
        assert event.username == "operatore1" and event.ip == "192.0.2.44"
        assert event.actor is None


def test_a_login_is_audited_with_who_when_and_where(app):
    login_as(app, "admin.alt")
    with models.db.connection_context():
        event = AuditEvent.select().where(AuditEvent.kind == "login").get()
        assert event.actor.username == "admin.alt" and event.studio.code == "ALT001"
        assert event.ip == "127.0.0.1" and event.created_at is not None


def test_the_store_comes_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379")
    app = make_test_app(database_url)
    try:
        assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"
    finally:
        models.db.close_all()
