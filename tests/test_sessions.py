"""Sessions that really end: cookie flags, renewal at login, logout, timeouts, htmx, next."""

import datetime as dt
from http.cookies import SimpleCookie

import pytest
from conftest import AuthActions, htmx_headers, login_as, make_test_app
from route_catalogue import ROLE_USERS, all_routes, url_for_route, victim_objects

import accounts
import models
from models import User, UserSession


def set_cookie_header(response, name):
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return header, cookie[name]
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getlist('Set-Cookie')}")


def test_session_cookie_is_httponly_and_samesite_lax(client):
    response = AuthActions(client).login("admin")
    header, morsel = set_cookie_header(response, "session")
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain HTTP in development: a Secure cookie would not come back


def test_over_https_the_cookie_is_secure_and_host_prefixed(database_url):
    app = make_test_app(database_url, HTTPS_ONLY=True)
    try:
        with models.db.connection_context():
            import demo

            demo.seed(password="demo")
        client = app.test_client()
        response = client.post("/login", data={"username": "admin", "password": "demo"},
                               base_url="https://portale.example")
        assert response.status_code == 302
        header, morsel = set_cookie_header(response, "__Host-session")
        assert morsel["secure"] is True and morsel["httponly"] is True
        assert morsel["path"] == "/" and not morsel["domain"]
        assert morsel["samesite"] == "Lax"
        home = client.get("/", base_url="https://portale.example")
        assert home.status_code == 200
    finally:
        models.db.close_all()


def test_login_starts_a_new_server_side_session(app, client, db):
    client.get("/login")
    before = client.get_cookie("session")
    AuthActions(client).login("admin")
    after = client.get_cookie("session")
    assert after is not None and (before is None or before.value != after.value)
    admin = User.get(User.username == "admin")
    assert UserSession.select().where(UserSession.user == admin).count() == 1


def test_the_session_user_is_the_user_as_stored_with_nothing_marked_changed(app, db):
    stored = User.get(User.username == "operatore1")
    token = accounts.start_session(stored, "127.0.0.1", "test")
    user = accounts.load_session_user(token, dt.timedelta(minutes=30), dt.timedelta(hours=12))
    assert user.__data__ == User.get_by_id(stored.id).__data__  # the login stamped last_login_at
    assert user.dirty_fields == []  # a save of changed fields writes nothing merely read


def test_a_cookie_captured_before_logout_no_longer_works(app, db):
    victim = login_as(app, "admin")
    captured = victim.get_cookie("session").value
    assert AuthActions(victim).logout().status_code == 302
    admin = User.get(User.username == "admin")
    assert UserSession.select().where(UserSession.user == admin).count() == 0

    thief = app.test_client()
    thief.set_cookie("session", captured)
    assert thief.get("/").status_code == 302
    response = thief.get("/area-personale/cambio-password", headers=htmx_headers("password-form"))
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/login"


def test_password_change_ends_the_other_sessions_on_the_server(app, db):
    phone, laptop = login_as(app, "operatore1"), login_as(app, "operatore1")
    response = laptop.post("/area-personale/cambio-password", data={
        "current_password": "demo", "new_password": "una-password-nuova",
        "repeat_password": "una-password-nuova"})
    assert response.status_code == 200
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200
    operator = User.get(User.username == "operatore1")
    assert UserSession.select().where(UserSession.user == operator).count() == 1


def test_disabling_a_user_ends_his_sessions(app, db):
    operator = login_as(app, "operatore1")
    User.update(active=False).where(User.username == "operatore1").execute()
    assert operator.get("/").status_code == 302
    user = User.get(User.username == "operatore1")
    assert UserSession.select().where(UserSession.user == user).count() == 0


class Clock:
    """Moves accounts' idea of "now" forward."""

    def __init__(self, monkeypatch):
        self.offset = dt.timedelta()
        real = models.utcnow
        monkeypatch.setattr(accounts, "utcnow", lambda: real() + self.offset)

    def advance(self, **delta):
        self.offset += dt.timedelta(**delta)


def test_idle_session_ends_after_30_minutes(app, monkeypatch):
    clock = Clock(monkeypatch)
    client = login_as(app, "admin")
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=29)  # used 29 minutes ago: still alive
    assert client.get("/").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    clock.advance(minutes=-31)  # the session was ended on the server, not merely refused
    assert client.get("/").status_code == 302


def test_session_ends_12_hours_after_login_even_if_used(app, monkeypatch):
    clock = Clock(monkeypatch)
    client = login_as(app, "admin")
    for _ in range(28):  # every 25 minutes for 11 hours 40
        clock.advance(minutes=25)
        assert client.get("/").status_code == 200
    clock.advance(minutes=15)  # 11h55
    assert client.get("/").status_code == 200
    clock.advance(minutes=10)  # 12h05, last used 10 minutes ago
    assert client.get("/").status_code == 302


def test_timeouts_are_configurable(database_url, monkeypatch):
    app = make_test_app(database_url, SESSION_IDLE_MINUTES=5, SESSION_MAX_HOURS=1)
    try:
        with models.db.connection_context():
            import demo

            demo.seed(password="demo")
        clock = Clock(monkeypatch)
        client = login_as(app, "admin")
        clock.advance(minutes=4)
        assert client.get("/").status_code == 200
        clock.advance(minutes=6)
        assert client.get("/").status_code == 302
    finally:
        models.db.close_all()


def test_every_htmx_request_without_a_session_gets_hx_redirect_to_login(app):
    with app.app_context(), models.db.connection_context():
        objects = victim_objects()
    anonymous = app.test_client()
    checked = 0
    for route in all_routes(app):
        if route.is_public:
            continue
        url = url_for_route(app, route, objects)
        for method in sorted(route.methods):
            response = anonymous.open(url, method=method, headers=htmx_headers("main"))
            where = f"{method} {url}"
            assert response.status_code == 204, f"{where}: {response.status_code}"
            assert response.headers["HX-Redirect"].startswith("/login"), where
            assert "Location" not in response.headers, where
            checked += 1
    assert checked >= 3


def test_a_full_page_request_without_session_goes_to_login_and_back(client):
    response = client.get("/area-personale/cambio-password?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/area-personale/cambio-password?x%3D1"
    response = client.post("/login", data={
        "username": "admin", "password": "demo", "next": "/area-personale/cambio-password?x=1"})
    assert response.headers["Location"] == "/area-personale/cambio-password?x=1"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "http://evil.example", "//evil.example", "///evil.example",
    "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\t/evil.example",
    "/\n/evil.example", "javascript:alert(1)", "evil.example", " //evil.example",
    "http:/evil.example", "/" + "a" * 3000,
])
def test_after_login_only_same_site_targets_are_followed(client, target):
    response = client.post("/login", data={"username": "admin", "password": "demo", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_an_htmx_login_redirects_with_hx_redirect(client):
    response = client.post("/login", data={"username": "admin", "password": "demo"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/"


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_logout_of_every_role_ends_the_session(app, role):
    client = login_as(app, ROLE_USERS[role])
    captured = client.get_cookie("session").value
    AuthActions(client).logout()
    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert replay.get("/").status_code == 302


def test_an_operator_disabled_by_the_admin_is_out_at_once(app):
    operator = login_as(app, "operatore1")
    captured = operator.get_cookie("session").value
    with models.db.connection_context():
        operator_id = User.get(User.username == "operatore1").id
    admin = login_as(app, "admin")
    response = admin.post(f"/area-personale/operatori/{operator_id}/stato", data={"attivo": "0"})
    assert response.status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert replay.get("/").status_code == 302
    assert operator.get("/servizi-smart", headers=htmx_headers("main")).headers[
        "HX-Redirect"].startswith("/login")
    with models.db.connection_context():
        assert UserSession.select().where(UserSession.user == operator_id).count() == 0
    # re-enabled, he logs in again (the old cookie stays dead)
    admin.post(f"/area-personale/operatori/{operator_id}/stato", data={"attivo": "1"})
    assert replay.get("/").status_code == 302
    assert login_as(app, "operatore1").get("/").status_code == 200
